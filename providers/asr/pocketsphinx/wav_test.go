package pocketsphinx_test

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// decodeWAV reads 16-bit PCM WAV: enough for what the flite CLI writes.
func decodeWAV(b []byte) (rate, channels int, samples []int16, err error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0, 0, nil, errors.New("wav: not RIFF/WAVE")
	}
	b = b[12:]
	for len(b) >= 8 {
		id, size := string(b[0:4]), int(binary.LittleEndian.Uint32(b[4:8]))
		b = b[8:]
		if size > len(b) {
			size = len(b) // flite may leave the sizes of a streamed file unset
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return 0, 0, nil, errors.New("wav: short fmt chunk")
			}
			if f, bits := binary.LittleEndian.Uint16(b[0:2]), binary.LittleEndian.Uint16(b[14:16]); f != 1 || bits != 16 {
				return 0, 0, nil, fmt.Errorf("wav: format %d, %d bits; want PCM16", f, bits)
			}
			channels = int(binary.LittleEndian.Uint16(b[2:4]))
			rate = int(binary.LittleEndian.Uint32(b[4:8]))
		case "data":
			if rate == 0 {
				return 0, 0, nil, errors.New("wav: data before fmt")
			}
			samples = make([]int16, size/2)
			for i := range samples {
				samples[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
			}
			return rate, channels, samples, nil
		}
		b = b[size+size%2:]
	}
	return 0, 0, nil, errors.New("wav: no data chunk")
}
