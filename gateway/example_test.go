package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

// Mount the gateway beside a web page, serve, and drain on the way out.
func Example() {
	reg := prometheus.NewRegistry() // cmd may add Go and process collectors to it
	gw, err := gateway.New(gateway.Options{
		Logger:   zap.NewNop(),
		Registry: reg,
		Stages: pipeline.Stages{
			ASR: pipelinetest.NewScripted("hello"), LLM: &echo.Echo{}, TTS: &pipelinetest.Tone{},
		},
		Config: gateway.Config{APIKeys: []string{"0123456789abcdef-secret"}},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.NotFoundHandler()) // cmd: web.Handler()
	for _, p := range []string{gateway.PathWS, gateway.PathTickets, gateway.PathHealthz, gateway.PathReadyz} {
		mux.Handle(p, gw.Handler())
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	// Metrics go on a listener of their own, for operators only.
	admin := http.NewServeMux()
	admin.Handle(gateway.PathMetrics, gw.MetricsHandler())
	adminSrv := httptest.NewServer(admin)
	defer adminSrv.Close()

	resp, err := http.Get(srv.URL + gateway.PathReadyz)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("readyz:", resp.StatusCode)

	// First signal: drain the WebSockets (http.Server.Shutdown will not),
	// then shut the HTTP server down.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := gw.Shutdown(ctx); err != nil {
		fmt.Println("forced:", err)
	}
	resp, err = http.Get(srv.URL + gateway.PathReadyz)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("readyz:", resp.StatusCode)
	// Output:
	// readyz: 200
	// readyz: 503
}
