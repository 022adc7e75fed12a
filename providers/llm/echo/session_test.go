package echo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

// TestSessionToolRound: in a session, echo calls a server-side tool for
// the user's question and reads its result back, as the docs promise.
func TestSessionToolRound(t *testing.T) {
	var ran []string
	tool := weather
	tool.Call = func(_ context.Context, args string) (string, error) {
		ran = append(ran, args)
		return "Sunny, 22 degrees", nil
	}
	conv := pipeline.NewConversation("", 0)
	sess, err := pipeline.NewSession(pipeline.Config{
		Stages:       pipeline.Stages{LLM: echo.New(echo.Config{})},
		Conversation: conv,
		TextOnly:     true,
		Tools:        []pipeline.Tool{tool},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec := pipelinetest.NewRecorder()
	done := make(chan error, 1)
	go func() { done <- sess.Run(ctx, rec) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	}()

	if err := sess.SubmitText("what is the weather in paris"); err != nil {
		t.Fatal(err)
	}
	res, _, err := rec.Wait(ctx, 0, pipelinetest.Kind(pipeline.EventToolResult))
	if err != nil {
		t.Fatal(err)
	}
	reply, _, err := rec.Wait(ctx, 0, pipelinetest.Kind(pipeline.EventResponseDone))
	if err != nil {
		t.Fatal(err)
	}
	if res.Call.Name != "get_weather" || res.Call.Arguments != `{"city":"paris"}` || res.Call.ID != "call_956337a3d476b54a" {
		t.Fatalf("tool result for %+v", res.Call)
	}
	if reply.Text != "The get weather tool says: Sunny, 22 degrees." || len(ran) != 1 || ran[0] != `{"city":"paris"}` {
		t.Fatalf("reply %q, tool ran with %q", reply.Text, ran)
	}
}
