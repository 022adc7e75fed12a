//go:build !(cgo && speexdsp)

package main

import "errors"

const haveAEC = false

func newEchoCanceller(int) (echoCanceller, error) {
	return nil, errors.New("--echo-guard aec needs speexdsp: rebuild with cgo and -tags speexdsp " +
		"(libspeexdsp-dev / brew speexdsp / mingw-w64-x86_64-speexdsp; see docs/mic.md), or use --echo-guard half-duplex")
}
