// Command voicegate is the realtime voice gateway server: a browser or a
// desktop client streams microphone audio over one WebSocket, and the spoken
// answer streams back while it is still being generated.
//
// With no configuration it runs fully offline: pocketsphinx recognition, an
// echo language model and flite synthesis. See configs/voicegate.example.yaml.
// The server itself is package app; this command is app with the built-in
// providers.
package main

import (
	"os"

	"github.com/voicegate/voicegate/app"
)

func main() { os.Exit(app.Main(os.Args[1:], app.Builtin())) }
