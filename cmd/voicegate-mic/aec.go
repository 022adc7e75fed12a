package main

// echoCanceller removes the speaker's sound from the microphone.
type echoCanceller interface {
	// Far queues what was played, at the session rate. It is called from
	// the playback goroutine and does not retain samples.
	Far(samples []int16)
	// Process appends near (the microphone, at the session rate) with the
	// echo removed to dst and returns it; it may hold back a partial frame.
	Process(dst, near []int16) []int16
	Close()
}
