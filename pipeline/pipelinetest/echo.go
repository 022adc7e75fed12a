package pipelinetest

import (
	"context"
	"strings"
	"time"

	"github.com/voicegate/voicegate/pipeline"
)

// Echo is a Generator that answers "You said: <the user's last words>",
// streamed a word at a time. FirstToken delays the first delta, PerToken each
// one after it; both zero means as fast as possible.
type Echo struct {
	FirstToken time.Duration
	PerToken   time.Duration
	Prefix     string // default "You said: "
}

var _ pipeline.Generator = (*Echo)(nil)

// Name is "echo".
func (e *Echo) Name() string { return "echo" }

// Reply returns the text Echo answers to msgs.
func (e *Echo) Reply(msgs []pipeline.Message) string {
	var last string
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == pipeline.RoleUser {
			last = strings.TrimSpace(msgs[i].Content)
			break
		}
	}
	if last == "" {
		last = "nothing"
	}
	prefix := e.Prefix
	if prefix == "" {
		prefix = "You said: "
	}
	if !strings.ContainsAny(last[len(last)-1:], ".!?。！？") {
		last += "."
	}
	return prefix + last
}

// Generate streams Reply(msgs).
func (e *Echo) Generate(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
	reply := e.Reply(msgs)
	if err := sleep(ctx, e.FirstToken); err != nil {
		return err
	}
	for i, w := range strings.SplitAfter(reply, " ") {
		if i > 0 {
			if err := sleep(ctx, e.PerToken); err != nil {
				return err
			}
		}
		if err := emit(w); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
