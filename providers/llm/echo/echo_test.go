package echo_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/conformance"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

func ExampleEcho() {
	g := echo.New(echo.Config{})
	msgs := []pipeline.Message{
		{Role: pipeline.RoleSystem, Content: "Be brief."},
		{Role: pipeline.RoleUser, Content: "turn on the lights"},
	}
	_ = g.Generate(context.Background(), msgs, func(delta string) error {
		fmt.Printf("%q\n", delta)
		return nil
	})
	// Output:
	// "You "
	// "said: "
	// "turn "
	// "on "
	// "the "
	// "lights."
}

func TestConforms(t *testing.T) {
	for _, g := range []*echo.Echo{
		{},
		echo.New(echo.Config{FirstToken: 5 * time.Millisecond, PerToken: time.Millisecond}),
	} {
		if err := conformance.TestGenerator(t.Context(), g); err != nil {
			t.Error(err)
		}
	}
}

func TestReply(t *testing.T) {
	assistant := pipeline.Message{Role: pipeline.RoleAssistant, Content: "earlier reply"}
	tests := []struct {
		name   string
		prefix string
		msgs   []pipeline.Message
		want   string
	}{
		{"adds a full stop", "", []pipeline.Message{user("hello there")}, "You said: hello there."},
		{"keeps a question mark", "", []pipeline.Message{user(" what time is it? ")}, "You said: what time is it?"},
		{"keeps a full-width stop", "", []pipeline.Message{user("你好。")}, "You said: 你好。"},
		{"newest user message", "", []pipeline.Message{user("first"), assistant, user("second")}, "You said: second."},
		{"user message before the assistant's", "", []pipeline.Message{user("first"), assistant}, "You said: first."},
		{"nothing heard", "", []pipeline.Message{{Role: pipeline.RoleSystem, Content: "Be brief."}, user("  ")}, "You said: nothing."},
		{"no messages", "", nil, "You said: nothing."},
		{"prefix", "Heard: ", []pipeline.Message{user("stop")}, "Heard: stop."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := echo.New(echo.Config{Prefix: tt.prefix}).Reply(tt.msgs); got != tt.want {
				t.Errorf("Reply = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConfigFromYAML(t *testing.T) {
	var c echo.Config
	dec := yaml.NewDecoder(bytes.NewReader([]byte("first_token: 300ms\nper_token: 20ms\nprefix: 'Heard: '\n")))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if want := (echo.Config{FirstToken: 300 * time.Millisecond, PerToken: 20 * time.Millisecond, Prefix: "Heard: "}); c != want {
		t.Errorf("decoded %+v, want %+v", c, want)
	}
}

func TestPacing(t *testing.T) {
	g := echo.New(echo.Config{FirstToken: 40 * time.Millisecond, PerToken: 10 * time.Millisecond})
	msgs := []pipeline.Message{{Role: pipeline.RoleUser, Content: "one two three"}} // 5 deltas
	start := time.Now()
	var first time.Duration
	err := g.Generate(context.Background(), msgs, func(string) error {
		if first == 0 {
			first = time.Since(start)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if first < 40*time.Millisecond {
		t.Errorf("first delta after %v, want at least FirstToken", first)
	}
	if total := time.Since(start); total < 80*time.Millisecond {
		t.Errorf("reply took %v, want at least FirstToken + 4×PerToken", total)
	}
}

func TestName(t *testing.T) {
	if got := (&echo.Echo{}).Name(); got != "echo" {
		t.Errorf("Name() = %q", got)
	}
}
