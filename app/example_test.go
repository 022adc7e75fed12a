package app_test

import (
	"context"
	"encoding/json"
	"os"
	"time"

	"github.com/voicegate/voicegate/app"
	"github.com/voicegate/voicegate/pipeline"
)

// A program of your own is voicegate with tools of yours: the gateway runs
// them when the model calls them, in every session, and the reply goes on
// with their result.
func ExampleRegistry_tools() {
	reg := app.Builtin()
	reg.Tools = append(reg.Tools, pipeline.Tool{
		Name:        "current_time",
		Description: "The time now, in UTC.",
		Parameters:  json.RawMessage(`{"type":"object","properties":{}}`),
		Call: func(context.Context, string) (string, error) {
			return time.Now().UTC().Format("15:04"), nil
		},
	})
	os.Exit(app.Main(os.Args[1:], reg))
}
