package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/voicegate/voicegate/configs"
	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/redisstore"
	"github.com/voicegate/voicegate/pipeline"
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
//
// It serves two listeners: the public one (server.addr: the page, /ws,
// /v1/tickets, /healthz, /readyz) and the admin one (server.admin_addr:
// /metrics, and /debug/pprof with server.pprof), which has no
// authentication. It refuses to start on a public address without API
// keys unless server.allow_unauthenticated says so.
//
// With server.tls_cert and server.tls_key the public listener serves TLS
// only; the pair is read at start (a pair that does not load stops it)
// and again on SIGHUP (one that does not load is logged, and the previous
// certificate kept).
func Run(args []string, getenv func(string) string, reg Registry) error {
	return run(args, getenv, reg, hooks{})
}

// hooks let a test drive run: ready is told the listeners' addresses once
// both serve (admin nil when off), stop, when set, takes the place of
// SIGINT and SIGTERM, and reloaded is told the outcome of each SIGHUP's
// certificate reload.
type hooks struct {
	ready    func(public, admin net.Addr)
	stop     <-chan os.Signal
	reloaded func(error)
}

func run(args []string, getenv func(string) string, reg Registry, h hooks) error {
	fs := flag.NewFlagSet("voicegate", flag.ContinueOnError)
	configPath := fs.String("config", getenv("VOICEGATE_CONFIG"), "YAML configuration `file` (env VOICEGATE_CONFIG); none: the offline default")
	addr := fs.String("addr", "", "listen `address` (env VOICEGATE_ADDR; default 127.0.0.1:8080)")
	adminAddr := fs.String("admin-addr", "", "admin listen `address`, for /metrics and /debug/pprof (env VOICEGATE_ADMIN_ADDR; default 127.0.0.1:9090; off: none)")
	withPprof := fs.Bool("pprof", false, "serve /debug/pprof on the admin listener")
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
	if *adminAddr != "" {
		cfg.Server.AdminAddr = *adminAddr
	}
	cfg.Server.Pprof = cfg.Server.Pprof || *withPprof
	if cfg.Server.Pprof && cfg.Server.AdminAddr == configs.AdminOff {
		return errors.New("-pprof serves /debug/pprof on the admin listener, which is off: set -admin-addr or server.admin_addr")
	}
	if err := checkExposure(cfg.Server); err != nil {
		return err
	}

	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer log.Sync()

	// The certificate is read before the providers are built: a wrong
	// path fails the start at once.
	var cert *certificate
	if cfg.Server.TLSCert != "" {
		if cert, err = loadCertificate(cfg.Server.TLSCert, cfg.Server.TLSKey, log); err != nil {
			return err
		}
	}
	hasher, err := newContentHasher(cfg.Log)
	if err != nil {
		return err
	}
	start := time.Now()
	deps := Deps{Log: log, LogContent: cfg.Log.LogContent, ContentHasher: hasher}
	b, err := buildStages(cfg.Providers, reg, deps)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := buildLanguages(b, cfg.Languages, reg, deps); err != nil {
		return err
	}
	tracer, stopTracing, err := newTracing(getenv, log)
	if err != nil {
		return err
	}
	defer stopTracing()

	for _, d := range cfg.Deprecated() {
		log.Warn("deprecated setting in use", zap.String("setting", d))
	}
	gwConfig := cfg.Server.Config
	gwConfig.SessionFile = cfg.SessionFile()
	var (
		store   gateway.SessionStore
		cluster gateway.ClusterCounter
	)
	if cfg.Store.Kind == configs.StoreKindRedis {
		rs, err := redisstore.New(cfg.Store.Redis)
		if err != nil {
			return err
		}
		defer rs.Close() // after the drain, which saves the sessions last
		store = rs
		if !cfg.Store.Redis.LocalLimits {
			cluster = rs
		}
		redis.SetLogger(redisLog{log.Named("redis")}) // the library's logger is process-wide
	}

	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := withCaches(b, cfg, metrics, log); err != nil {
		return err
	}
	prewarm(context.Background(), log, b.stages.ASR, b.stages.LLM, b.stages.TTS)
	for _, l := range b.languages {
		prewarm(context.Background(), log, l.Stages.ASR, l.Stages.LLM, l.Stages.TTS)
	}

	gw, err := gateway.New(gateway.Options{
		Store:         store,
		Cluster:       cluster,
		StoreTimeout:  cfg.Store.Redis.Timeout,
		Logger:        log,
		Registry:      metrics,
		Stages:        b.stages,
		Languages:     b.languages,
		VADName:       b.vadName(),
		VAD:           cfg.VAD,
		Tools:         reg.Tools,
		Config:        gwConfig,
		SessionConfig: cfg.Session,
		LogContent:    cfg.Log.LogContent,
		ContentHasher: hasher,
		TurnTracer:    tracer,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set another with -addr or VOICEGATE_ADDR)", cfg.Server.Addr, err)
	}
	srv := newHTTPServer(routes(gw), log, defaultHTTPTimeouts)
	serveErr := make(chan error, 2)
	publicLn, scheme := ln, "http"
	if cert != nil {
		publicLn, scheme = tls.NewListener(ln, cert.tlsConfig()), "https"
	}
	go func() { serveErr <- srv.Serve(publicLn) }()
	servers := []*http.Server{srv}

	var adminAt net.Addr
	if cfg.Server.AdminAddr != configs.AdminOff {
		aln, err := net.Listen("tcp", cfg.Server.AdminAddr)
		if err != nil {
			srv.Close()
			return fmt.Errorf("admin listener on %s: %w (set another with -admin-addr or server.admin_addr, or %q for none)", cfg.Server.AdminAddr, err, configs.AdminOff)
		}
		admin := newHTTPServer(adminMux(gw, cfg.Server.Pprof), log, defaultHTTPTimeouts)
		go func() { serveErr <- admin.Serve(aln) }()
		servers = append(servers, admin)
		adminAt = aln.Addr()
		if !loopbackAddr(aln.Addr().String()) {
			log.Warn("the admin listener has no authentication and is not on loopback: anyone who reaches it reads the metrics (and the profiles, with pprof)",
				zap.String("admin_addr", aln.Addr().String()))
		}
	}

	fields := []zap.Field{
		zap.String("url", scheme+"://"+displayAddr(ln.Addr())+"/"),
		zap.String("ws", strings.Replace(scheme, "http", "ws", 1)+"://"+displayAddr(ln.Addr())+gateway.PathWS),
	}
	if adminAt != nil {
		fields = append(fields, zap.String("metrics", "http://"+displayAddr(adminAt)+gateway.PathMetrics))
	}
	log.Info("voicegate listening", append(fields,
		zap.String("asr", pipeline.NameOf(b.stages.ASR)), zap.String("llm", pipeline.NameOf(b.stages.LLM)), zap.String("tts", pipeline.NameOf(b.stages.TTS)),
		zap.Bool("api_keys", len(cfg.Server.APIKeys) > 0),
		zap.Duration("startup", time.Since(start)))...)
	if len(cfg.Server.APIKeys) == 0 && len(cfg.Server.AllowedHosts) == 0 && !loopbackAddr(cfg.Server.Addr) {
		log.Warn("no API keys: /ws answers only loopback host names (against DNS rebinding); list the names clients use in server.allowed_hosts")
	}
	if pipeline.NameOf(b.stages.LLM) == "echo" {
		log.Info("the language model is the offline echo; to talk to a real model, add an OpenAI-compatible provider under providers.llm (see configs/voicegate.example.yaml and docs/providers.md)")
	}

	sigs := h.stop
	if sigs == nil {
		c := make(chan os.Signal, 2)
		signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(c)
		sigs = c
	}
	// SIGHUP reloads the certificate; without TLS it keeps its default
	// (the process ends), as before TLS existed.
	var hup chan os.Signal
	if cert != nil {
		hup = make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
	if h.ready != nil {
		h.ready(ln.Addr(), adminAt)
	}
wait:
	for {
		select {
		case err := <-serveErr:
			for _, s := range servers {
				s.Close()
			}
			return fmt.Errorf("serve: %w", err)
		case <-hup:
			err := cert.reload()
			if h.reloaded != nil {
				h.reloaded(err)
			}
		case s := <-sigs:
			log.Info("draining: a second signal forces exit", zap.String("signal", s.String()), zap.Duration("grace", cfg.Server.DrainTimeout))
			break wait
		}
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
	// The admin listener stops last, so the drain can be watched.
	drainErr := gw.Shutdown(ctx)
	shutCtx, cancelShut := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelShut()
	for _, s := range servers {
		if err := s.Shutdown(shutCtx); err != nil {
			s.Close()
		}
	}
	for range servers {
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	if drainErr != nil && !errors.Is(drainErr, context.DeadlineExceeded) && !errors.Is(drainErr, context.Canceled) {
		return drainErr
	}
	log.Info("voicegate stopped")
	return nil
}

// adminMux serves what only operators may read: the metrics and, with
// withPprof, the Go profiles (whose cmdline shows the process's arguments).
func adminMux(gw *gateway.Server, withPprof bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(gateway.PathMetrics, gw.MetricsHandler())
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// checkExposure refuses a server anyone on the network could use: one
// listening beyond loopback with no API keys, unless the operator said so.
func checkExposure(s configs.Server) error {
	if len(s.APIKeys) > 0 || s.AllowUnauthenticated || loopbackAddr(s.Addr) {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without authentication: set server.api_keys (or VOICEGATE_API_KEYS), "+
		"or server.allow_unauthenticated: true to serve anyone who can reach it", s.Addr)
}

// loopbackAddr reports whether a listen address is on loopback only:
// localhost or a loopback IP. No host (":8080") is every interface, and any
// other name may resolve beyond loopback.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
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

// newContentHasher returns the fingerprint of content in the logs: keyed
// with the contents of log.content_key_file, so that fingerprints match
// across restarts and instances, or with a random key for this process.
func newContentHasher(c configs.Log) (*pipeline.ContentHasher, error) {
	if c.ContentKeyFile == "" {
		return pipeline.NewRandomContentHasher(), nil
	}
	b, err := os.ReadFile(c.ContentKeyFile)
	if err != nil {
		return nil, fmt.Errorf("log.content_key_file: %w", err)
	}
	h, err := pipeline.NewContentHasher(bytes.TrimSpace(b))
	if err != nil {
		return nil, fmt.Errorf("log.content_key_file %s: %w", c.ContentKeyFile, err)
	}
	return h, nil
}

// redisLog takes go-redis's own log lines (a dial that failed, a pool
// event) at Debug: the gateway logs the store's outages itself, rate-limited.
type redisLog struct{ log *zap.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	if ce := l.log.Check(zap.DebugLevel, "redis client"); ce != nil {
		ce.Write(zap.String("message", fmt.Sprintf(format, v...)))
	}
}
