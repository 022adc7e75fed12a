package audio

import (
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// chunked returns the bytes of b in reads of the given sizes, cycling.
type chunked struct {
	b     []byte
	sizes []int
	i     int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(c.sizes[c.i%len(c.sizes)], len(p), len(c.b))
	c.i++
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

func TestReadPCM16(t *testing.T) {
	want := make([]int16, 1000)
	for i := range want {
		want[i] = int16(i*37 - 18000)
	}
	wire := EncodePCM16(nil, want)
	errBoom := errors.New("boom")
	tests := []struct {
		name     string
		r        io.Reader
		wantHalf bool
		wantErr  error
		wantN    int
	}{
		{"odd reads", &chunked{b: wire, sizes: []int{1, 3, 7, 2, 5}}, false, nil, 1000},
		{"one byte at a time", iotest.OneByteReader(&chunked{b: wire, sizes: []int{4096}}), false, nil, 1000},
		{"ends on half a sample", &chunked{b: wire[:len(wire)-1], sizes: []int{33}}, true, nil, 999},
		{"read error", io.MultiReader(&chunked{b: wire[:101], sizes: []int{50}}, iotest.ErrReader(errBoom)), false, errBoom, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int16
			half, err := ReadPCM16(tt.r, 64, func(p []int16) error {
				got = append(got, p...)
				return nil
			})
			if !errors.Is(err, tt.wantErr) || half != tt.wantHalf {
				t.Fatalf("ReadPCM16 = %v, %v; want %v, %v", half, err, tt.wantHalf, tt.wantErr)
			}
			if len(got) != tt.wantN {
				t.Fatalf("got %d samples, want %d", len(got), tt.wantN)
			}
			for i, s := range got {
				if s != want[i] {
					t.Fatalf("sample %d = %d, want %d", i, s, want[i])
				}
			}
		})
	}
	t.Run("emit error stops", func(t *testing.T) {
		calls := 0
		_, err := ReadPCM16(&chunked{b: wire, sizes: []int{10}}, 64, func([]int16) error { calls++; return errBoom })
		if !errors.Is(err, errBoom) || calls != 1 {
			t.Fatalf("err %v after %d calls", err, calls)
		}
	})
}
