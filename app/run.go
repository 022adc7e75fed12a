package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/voicegate/voicegate/configs"
	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/web"
)

// Main runs the server with args (without the program name) and the
// process environment, and returns the process exit code.
func Main(args []string, reg Registry) int {
	if err := Run(args, os.Getenv, reg); err != nil {
		fmt.Fprintln(os.Stderr, "voicegate:", err)
		return 1
	}
	return 0
}

// Run parses args, loads the configuration (file, then environment from
// getenv), builds the providers reg knows and serves until SIGINT or
// SIGTERM, then drains: a second signal closes every session at once.
func Run(args []string, getenv func(string) string, reg Registry) error {
	fs := flag.NewFlagSet("voicegate", flag.ContinueOnError)
	configPath := fs.String("config", getenv("VOICEGATE_CONFIG"), "YAML configuration `file` (env VOICEGATE_CONFIG); none: the offline default")
	addr := fs.String("addr", "", "listen `address` (env VOICEGATE_ADDR; default 127.0.0.1:8080)")
	withPprof := fs.Bool("pprof", false, "serve /debug/pprof")
	printExample := fs.Bool("example-config", false, "print the annotated example configuration and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *printExample {
		_, err := os.Stdout.Write(configs.Example)
		return err
	}
	cfg, err := configs.Load(*configPath, getenv)
	if err != nil {
		return err
	}
	if *addr != "" {
		cfg.Server.Addr = *addr
	}
	cfg.Server.Pprof = cfg.Server.Pprof || *withPprof

	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer log.Sync()

	start := time.Now()
	b, err := buildStages(cfg.Providers, reg, Deps{Log: log})
	if err != nil {
		return err
	}
	defer b.Close()
	prewarm(context.Background(), log, b.stages.ASR, b.stages.LLM, b.stages.TTS)

	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gw, err := gateway.New(gateway.Options{
		Logger:        log,
		Registry:      metrics,
		Stages:        b.stages,
		VADName:       "energy",
		VAD:           cfg.VAD,
		Config:        cfg.Server.Config,
		SessionConfig: cfg.Session,
		LogContent:    cfg.Log.LogContent,
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	gh := gw.Handler()
	for _, p := range []string{gateway.PathWS, gateway.PathTickets, gateway.PathHealthz, gateway.PathReadyz, gateway.PathMetrics} {
		mux.Handle(p, gh)
	}
	if cfg.Server.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}

	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set another with -addr or VOICEGATE_ADDR)", cfg.Server.Addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: zap.NewStdLog(log.Named("http"))}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	log.Info("voicegate listening",
		zap.String("url", "http://"+displayAddr(ln.Addr())+"/"),
		zap.String("asr", pipeline.NameOf(b.stages.ASR)), zap.String("llm", pipeline.NameOf(b.stages.LLM)), zap.String("tts", pipeline.NameOf(b.stages.TTS)),
		zap.Bool("api_keys", len(cfg.Server.APIKeys) > 0),
		zap.Duration("startup", time.Since(start)))
	if pipeline.NameOf(b.stages.LLM) == "echo" {
		log.Info("the language model is the offline echo; to talk to a real model, add an OpenAI-compatible provider under providers.llm (see configs/voicegate.example.yaml and docs/providers.md)")
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case s := <-sigs:
		log.Info("draining: a second signal forces exit", zap.String("signal", s.String()), zap.Duration("grace", cfg.Server.DrainTimeout))
	}

	ctx, cancel := context.WithTimeout(context.Background(), cfg.Server.DrainTimeout)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			log.Warn("second signal: closing every session now")
			cancel()
		case <-ctx.Done():
		}
	}()
	// The gateway drains its WebSockets (http.Server.Shutdown does not close
	// hijacked connections); then the HTTP server stops.
	drainErr := gw.Shutdown(ctx)
	shutCtx, cancelShut := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelShut()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if drainErr != nil && !errors.Is(drainErr, context.DeadlineExceeded) && !errors.Is(drainErr, context.Canceled) {
		return drainErr
	}
	log.Info("voicegate stopped")
	return nil
}

// displayAddr turns a wildcard listen address into one a browser can open.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func newLogger(c configs.Log) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	var zc zap.Config
	if c.Format == "json" {
		zc = zap.NewProductionConfig()
	} else {
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
		if fi, err := os.Stderr.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			zc.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
		}
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.Sampling = nil
	return zc.Build()
}
