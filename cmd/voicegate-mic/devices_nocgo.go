//go:build !cgo

package main

import (
	"errors"
	"io"
)

var errNoDevices = errors.New("this voicegate-mic was built without cgo, so it has no audio devices: " +
	"use --in FILE (and --out FILE or --mute), or rebuild with CGO_ENABLED=1 (see docs/mic.md)")

func listDevices(io.Writer) error { return errNoDevices }

func openMic(string) (source, string, error) { return nil, "", errNoDevices }

func openSpeaker(*Player) (speaker, error) { return nil, errNoDevices }
