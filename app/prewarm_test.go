package app

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/fallback"
	"github.com/voicegate/voicegate/providers/httpx"
	llmopenai "github.com/voicegate/voicegate/providers/llm/openai"
)

// warmGen is a Generator that counts its Prewarm calls and answers them
// with err, or, when hang is set, not before ctx ends.
type warmGen struct {
	name  string
	err   error
	hang  bool
	calls atomic.Int32
}

func (g *warmGen) Name() string { return g.name }

func (g *warmGen) Generate(context.Context, []pipeline.Message, func(string) error) error { return nil }

func (g *warmGen) Prewarm(ctx context.Context) error {
	g.calls.Add(1)
	if g.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return g.err
}

// coldGen has no Prewarm.
type coldGen struct{}

func (coldGen) Generate(context.Context, []pipeline.Message, func(string) error) error { return nil }

func TestPrewarm(t *testing.T) {
	var models atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			models.Add(1)
		}
		_, _ = io.WriteString(w, `{"object":"list","data":[]}`)
	}))
	defer upstream.Close()
	real, err := llmopenai.New(llmopenai.Config{Config: httpx.Config{BaseURL: upstream.URL + "/v1", PrewarmConns: 2}, Model: "m"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()

	ok := &warmGen{name: "ok"}
	broken := &warmGen{name: "broken", err: errors.New("connection refused")}
	stuck := &warmGen{name: "stuck", hang: true}
	member := &warmGen{name: "member"}
	chain, err := fallback.Generator(nil, real, member, coldGen{})
	if err != nil {
		t.Fatal(err)
	}

	core, logs := observer.New(zapcore.DebugLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	prewarm(ctx, zap.New(core), ok, broken, stuck, coldGen{}, chain)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("prewarm took %v past its deadline", took)
	}

	for _, g := range []*warmGen{ok, broken, stuck, member} {
		if n := g.calls.Load(); n != 1 {
			t.Errorf("%s: %d Prewarm calls, want 1", g.name, n)
		}
	}
	if n := models.Load(); n != 2 {
		t.Errorf("the chain's OpenAI member made %d GET /models, want its 2 prewarm_conns", n)
	}
	lines := map[string]observer.LoggedEntry{}
	for _, e := range logs.All() {
		m := e.ContextMap()
		p, _ := m["provider"].(string)
		if _, dup := lines[p]; dup {
			t.Errorf("%s: logged twice", p)
		}
		if _, ok := m["took"]; !ok || m["stage"] == nil {
			t.Errorf("%s: %q has no took or stage: %v", p, e.Message, m)
		}
		lines[p] = e
	}
	if len(lines) != 4 {
		t.Errorf("%d log lines, want one for each of the 4 prewarmers: %v", len(lines), lines)
	}
	for p, lvl := range map[string]zapcore.Level{"ok": zapcore.InfoLevel, "broken": zapcore.WarnLevel, "stuck": zapcore.WarnLevel, pipeline.NameOf(chain): zapcore.InfoLevel} {
		if e, found := lines[p]; !found || e.Level != lvl {
			t.Errorf("%s: logged %+v, want a line at %v", p, e.Entry, lvl)
		}
	}
}
