package example_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/conformance"
	"github.com/voicegate/voicegate/providers/llm/example"
)

func ExampleReverser() {
	g := example.New(example.Config{})
	msgs := []pipeline.Message{
		{Role: pipeline.RoleSystem, Content: "You are a mirror."},
		{Role: pipeline.RoleUser, Content: "hello brave new world"},
	}
	_ = g.Generate(context.Background(), msgs, func(delta string) error {
		fmt.Printf("%q\n", delta)
		return nil
	})
	// Output:
	// "world"
	// " new"
	// " brave"
	// " hello"
}

func TestReverserStopsOnCancelAndEmitError(t *testing.T) {
	g := example.New(example.Config{Delay: time.Hour})
	msgs := []pipeline.Message{{Role: pipeline.RoleUser, Content: "a b c"}}
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	err := g.Generate(ctx, msgs, func(string) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	stop := errors.New("stop")
	if err := g.Generate(context.Background(), msgs, func(string) error { return stop }); err != stop {
		t.Fatalf("err = %v", err)
	}
}

func TestConformance(t *testing.T) {
	if err := conformance.TestGenerator(t.Context(), example.New(example.Config{})); err != nil {
		t.Error(err)
	}
}
