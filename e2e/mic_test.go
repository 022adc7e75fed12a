//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/resample"
	"github.com/voicegate/voicegate/audio/wav"
)

// TestMicVirtualDevices runs the desktop client, voicegate-mic, on a
// virtual sound card against the offline gateway (pocketsphinx, echo,
// flite): flite speech goes into the virtual microphone, the client
// captures it with portaudio and plays the reply with oto into the virtual
// speaker, which parec records. Then the gateway restarts mid-session, and
// the client must reconnect, resume its session and get a reply to a second
// utterance.
func TestMicVirtualDevices(t *testing.T) {
	need(t, "pulseaudio", "pactl", "parec", "flite")
	dir := t.TempDir()
	first := micSpeech(t, dir, "first", "please turn on the kitchen lights")
	second := micSpeech(t, dir, "second", "what is the weather like today")
	binary(t, "voicegate-mic") // build before the clocks start

	pulse := startMicPulse(t)
	mic := pulse.feed(t)
	spk := pulse.record(t, filepath.Join(dir, "speaker.wav"))
	// Sessions are saved across the restart below, as in a rolling deploy.
	gw := startGateway(t, "server: {session_file: "+filepath.Join(dir, "sessions.json")+"}")
	client := startMicClient(t, pulse, "--url", gw.WS(), "--out", filepath.Join(dir, "reply.wav"))

	_, at := client.waitLine(t, "connected:", 0, 20*time.Second)
	time.Sleep(time.Second) // the VAD learns the quiet first

	// Turn 1: the transcript, and the reply at the speaker.
	speechEnd := <-mic.say(first)
	you, _ := client.waitLine(t, "you:", at, 15*time.Second)
	if !strings.Contains(you.text, "kitchen lights") {
		t.Errorf("transcript line %q, want it to contain \"kitchen lights\"", you.text)
	}
	heard, _ := client.waitLine(t, "heard:", at, 15*time.Second)
	_, at = client.waitLine(t, "latency:", at, 15*time.Second)
	time.Sleep(4 * time.Second) // let the reply play out

	// The gateway restarts on the same port: the client must come back.
	restart := time.Now()
	gw.Restart()
	up := time.Now()
	_, at = client.waitLine(t, "disconnected:", at, 15*time.Second)
	re, at := client.waitLine(t, "reconnected:", at, 20*time.Second)
	t.Logf("gateway restart took %v; the client was back %v after it began (%v after the new gateway was ready): %s",
		up.Sub(restart).Round(time.Millisecond), re.at.Sub(restart).Round(time.Millisecond), re.at.Sub(up).Round(time.Millisecond), re.text)
	if !strings.Contains(re.text, "resumed session") {
		t.Errorf("after the restart the client did not resume its session: %q", re.text)
	}
	time.Sleep(time.Second)

	// Turn 2, in the resumed session.
	<-mic.say(second)
	you2, youAt := client.waitLine(t, "you:", at, 15*time.Second)
	if strings.TrimSpace(strings.TrimPrefix(you2.text, "you:")) == "" {
		t.Errorf("second transcript is empty: %q", you2.text)
	}
	t.Logf("turn 2: %s", you2.text)
	client.waitLine(t, "assistant:", youAt, 15*time.Second)
	client.waitLine(t, "heard:", youAt, 15*time.Second)
	time.Sleep(4 * time.Second)

	if code := client.interrupt(t); code != 0 {
		t.Errorf("voicegate-mic exited with %d after SIGINT\n%s", code, client.output())
	}
	client.waitLine(t, "state: closed", 0, time.Second)
	spk.stop(t)
	t.Logf("voicegate-mic printed:\n%s", client.output())

	// The speaker heard two replies of plausible length; the first began a
	// plausible time after the speech ended.
	rec := spk.recording()
	bursts := micBursts(rec, spkRate, 300, 800*time.Millisecond)
	if len(bursts) < 2 {
		t.Fatalf("the virtual speaker heard %d replies (%v), want 2", len(bursts), bursts)
	}
	for i, b := range bursts[:2] {
		if d := b.end - b.start; d < time.Second || d > 8*time.Second {
			t.Errorf("reply %d lasted %v at the speaker, want 1–8 s", i+1, d)
		}
	}
	sound := spk.at(audio.Format{SampleRate: spkRate, Channels: 1}.Samples(bursts[0].start))
	latency := sound.Sub(speechEnd)
	if latency < 200*time.Millisecond || latency > 5*time.Second {
		t.Errorf("first sound %v after the end of speech, want 0.2–5 s", latency)
	}

	// --out holds both replies as played; it also tells how much quiet
	// leads the reply (flite's), to split the latency up.
	f, err := os.Open(filepath.Join(dir, "reply.wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	format, saved, err := wav.Decode(f)
	if err != nil {
		t.Fatalf("reply.wav: %v", err)
	}
	if d := format.Duration(len(saved)); d < 2*time.Second {
		t.Errorf("reply.wav holds %v of audio, want both replies", d)
	}
	lead := time.Duration(-1)
	if b := micBursts(saved, format.SampleRate, 300, time.Second); len(b) > 0 {
		lead = b[0].start
	}
	handed := heard.at.Sub(speechEnd)
	t.Logf("end of speech → first sound at the virtual speaker: %v = %v until the reply's first audio went to oto"+
		" + %v of quiet leading the reply + %v through oto, ALSA and PulseAudio; replies lasted %v and %v",
		latency.Round(time.Millisecond), handed.Round(time.Millisecond), lead.Round(time.Millisecond),
		(latency - handed - lead).Round(time.Millisecond),
		(bursts[0].end - bursts[0].start).Round(10*time.Millisecond), (bursts[1].end - bursts[1].start).Round(10*time.Millisecond))
}

// micSpeech synthesises text with flite and returns it as 16 kHz mono
// samples.
func micSpeech(t *testing.T, dir, name, text string) []int16 {
	t.Helper()
	f, err := os.Open(flite(t, dir, name, text))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	format, s, err := wav.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	s = wav.ToMono(nil, s, format.Channels)
	if format.SampleRate != micRate {
		rs, err := resample.New(format.SampleRate, micRate)
		if err != nil {
			t.Fatal(err)
		}
		s = rs.Flush(rs.Process(nil, s))
	}
	if audio.DBFS(audio.RMS(s)) < -40 {
		t.Fatalf("flite produced near silence for %q", text)
	}
	return s
}
