// Command voicegate-load measures what the voicegate gateway itself costs
// under realtime voice load: N concurrent sessions stream 16 kHz PCM at real
// time in speech/silence turns against a gateway running zero-cost test
// providers with fixed latencies (this binary re-executed as the server,
// see gateway.go), and the same load is then put on a bare
// coder/websocket server as a baseline. It prints one markdown table with
// the performance targets and PASS/MISS beside them; docs/benchmarks.md describes
// the method.
//
//	voicegate-load -sessions 1000,2000 -duration 20s,60s
//	voicegate-load -server-cpus 0 -client-cpus 1 -sessions-per-core -sessions 1000 -duration 20s
//	voicegate-load -url ws://127.0.0.1:8080/ws -admin-url http://127.0.0.1:9090 -pid 4242 -sessions 200 -duration 10s
//
// With -server-cpus and -client-cpus the servers and the client run on CPUs
// of their own; -sessions-per-core first bisects for the most sessions each
// server carries there, and the report opens with a headline table of
// gateway against bare server.
//
// The client shares the machine with the server, so it is built to be
// cheap: frames are encoded once and shared, a few scheduler goroutines pace
// every session (no timer per session), and sending allocates nothing. Its
// own lateness is reported beside the gateway's figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/voicegate/voicegate/app"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == gatewayCommand {
		os.Exit(app.Main(os.Args[2:], loadRegistry()))
	}
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "voicegate-load:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("voicegate-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o           options
		sessionsArg = fs.String("sessions", "1000", "concurrent sessions; a comma list makes one run each")
		durationArg = fs.String("duration", "20s", "how long the sessions speak, per run (one value, or one per -sessions entry)")
		jsonPath    = fs.String("json", "", "also write the report as JSON to this file")
		check       = fs.Bool("check", false, "exit non-zero unless every run had no errors and completed turns (a smoke test; performance targets are not asserted)")
		quiet       = fs.Bool("q", false, "no progress on stderr")
		serve       = fs.String("serve-baseline", "", "run only the baseline echo server on this address (used by the tool itself)")
		selfProfile = fs.String("client-cpuprofile", "", "write this tool's own CPU profile here (to keep the client cheap)")
		soak        = fs.Duration("soak", 0, "instead of the benchmark, keep -sessions talking this long and sample RSS, goroutines and latency (make soak)")
		soakEvery   = fs.Duration("soak-sample", time.Minute, "with -soak: sampling interval")
		soakSettle  = fs.Int("soak-settle", 5, "with -soak: drift is measured from this sample on (1-based)")
		serverCPUs  = fs.String("server-cpus", "", "pin the gateway and the baseline server to these CPUs (a list as taskset -c takes it: 0 or 0-1,3); with -url, the -pid process's threads (its GOMAXPROCS stays as it started)")
		clientCPUs  = fs.String("client-cpus", "", "pin this load client to these CPUs; GOMAXPROCS follows")
	)
	fs.StringVar(&o.url, "url", "", "attach to a running gateway at this WebSocket URL (with -pid) instead of starting its own")
	fs.StringVar(&o.admin, "admin-url", "http://127.0.0.1:9090", "with -url: the gateway's admin listener (server.admin_addr), where its /metrics and /debug/pprof are")
	fs.IntVar(&o.pid, "pid", 0, "pid of the gateway at -url, for its CPU and RSS")
	fs.StringVar(&o.dir, "dir", "", "directory for the generated config and server logs (default: a temporary one)")
	fs.DurationVar(&o.cfg.Silence, "vad-silence", 300*time.Millisecond, "VAD silence that ends an utterance (config; must match the gateway's with -url)")
	fs.DurationVar(&o.cfg.ASR, "asr-latency", 0, "scripted ASR's final-result latency (config)")
	fs.DurationVar(&o.cfg.LLMFirstToken, "llm-first-token", 0, "echo LLM's first-token latency (config)")
	fs.DurationVar(&o.cfg.TTS, "tts-latency", 0, "tone TTS's first-audio latency (config)")
	fs.DurationVar(&o.voice, "voice", 1200*time.Millisecond, "length of each utterance")
	fs.DurationVar(&o.pauseMin, "pause-min", 2*time.Second, "shortest pause between utterances")
	fs.DurationVar(&o.pauseMax, "pause-max", 3*time.Second, "longest pause between utterances")
	fs.DurationVar(&o.ramp, "ramp", 0, "time over which sessions are opened (default N/250 s, at least 1 s)")
	fs.IntVar(&o.shards, "senders", 0, "scheduler goroutines pacing the sessions (default 2×GOMAXPROCS)")
	fs.BoolVar(&o.baseline, "baseline", true, "also run the bare coder/websocket baseline at each load")
	fs.DurationVar(&o.baselineDur, "baseline-duration", 0, "baseline measurement time (default: the run's duration)")
	fs.DurationVar(&o.maxLag, "max-lag", 100*time.Millisecond, "a sender further behind than this skips frames instead of bursting (reported)")
	fs.DurationVar(&o.quietWait, "quiet-wait", 0, "before each run, wait up to this long for the machine to be idle (< 0.25 cores busy)")
	fs.IntVar(&o.echoEvery, "echo-every", 10, "the baseline echoes every Nth frame")
	fs.DurationVar(&o.allocWindow, "alloc-window", 3*time.Second, "window over which allocations per frame are counted")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "save the gateway's CPU profile of each speaking phase here (suffixed with the run's sessions if several)")
	fs.StringVar(&o.heapProfile, "heapprofile", "", "save the gateway's heap profile with the sessions open and idle here (suffixed likewise)")
	fs.BoolVar(&o.capacity.enabled, "sessions-per-core", false, "first find, by bisection over short runs, the most sessions the gateway and then the bare server carry "+
		"with 0 dropped frames and added latency p99 ≤ -capacity-latency; per core of -server-cpus")
	fs.IntVar(&o.capacity.start, "capacity-start", 250, "with -sessions-per-core: the first load tried; it doubles until a run fails")
	fs.IntVar(&o.capacity.max, "capacity-max", 6000, "with -sessions-per-core: the most sessions tried")
	fs.DurationVar(&o.capacity.duration, "capacity-duration", 10*time.Second, "with -sessions-per-core: how long each search run speaks")
	fs.DurationVar(&o.capacity.latency, "capacity-latency", 20*time.Millisecond, "with -sessions-per-core: the p99 a load must keep to of the latency added beyond the VAD's wait (gateway) or of an echo's round trip (bare server)")
	fs.IntVar(&o.capacity.runs, "capacity-runs", 10, "with -sessions-per-core: at most this many search runs per server")
	fs.Float64Var(&o.capacity.resolution, "capacity-resolution", 0.05, "with -sessions-per-core: stop bisecting when the bounds are this close (fraction of the lower)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *serve != "" {
		return serveBaseline(*serve, o.echoEvery)
	}

	if *selfProfile != "" {
		f, err := os.Create(*selfProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ns, ds, err := parseRuns(*sessionsArg, *durationArg)
	if err != nil {
		return err
	}
	switch {
	case o.url != "" && o.pid == 0:
		return errors.New("-url needs -pid (the gateway's CPU and RSS are read from /proc)")
	case o.pauseMax < o.pauseMin || o.voice < frameDur || o.allocWindow < time.Second || o.maxLag < frameDur:
		return errors.New("need -pause-max ≥ -pause-min, -voice ≥ 20ms, -alloc-window ≥ 1s, -max-lag ≥ 20ms")
	}
	o.logf = func(format string, args ...any) {
		if !*quiet {
			fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}
	}
	if err := o.pinning(*serverCPUs, *clientCPUs); err != nil {
		return err
	}
	if o.shards <= 0 {
		o.shards = 2 * runtime.GOMAXPROCS(0)
	}
	if o.dir == "" {
		if o.dir, err = os.MkdirTemp("", "voicegate-load-"); err != nil {
			return err
		}
		defer os.RemoveAll(o.dir)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *soak > 0 {
		if o.url != "" || len(ns) != 1 || *soakEvery < time.Second || *soakSettle < 1 {
			return errors.New("-soak starts its own gateway and takes one -sessions value, -soak-sample ≥ 1s and -soak-settle ≥ 1")
		}
		r, err := o.runSoak(ctx, ns[0], *soak, *soakEvery, *soakSettle)
		if err != nil {
			return err
		}
		r.writeMarkdown(stdout)
		if *jsonPath != "" {
			if err := writeJSON(*jsonPath, r); err != nil {
				return err
			}
		}
		if !r.Pass {
			return errors.New("soak: FAIL")
		}
		return nil
	}

	rep := &Report{Machine: machine(), When: time.Now(), ServerCPUs: *serverCPUs, ClientCPUs: *clientCPUs}
	if o.capacity.enabled {
		if rep.Capacity, err = o.findCapacity(ctx); err != nil {
			return err
		}
	}
	cpuProfile, heapProfile := o.cpuProfile, o.heapProfile
	for i, n := range ns {
		d := ds[i]
		if len(ns) > 1 {
			o.cpuProfile, o.heapProfile = suffix(cpuProfile, n), suffix(heapProfile, n)
		}
		r := &Result{Sessions: n, Duration: d.Seconds(), Config: o.cfg}
		if r.Gateway, err = o.runGateway(ctx, n, d, false); err != nil {
			return fmt.Errorf("gateway, %d sessions: %w", n, err)
		}
		if o.baseline && ctx.Err() == nil {
			bd := o.baselineDur
			if bd == 0 {
				bd = d
			}
			if r.Baseline, err = o.runBaseline(ctx, n, bd); err != nil {
				return fmt.Errorf("baseline, %d connections: %w", n, err)
			}
		}
		rep.Runs = append(rep.Runs, r)
		if ctx.Err() != nil {
			break
		}
	}
	rep.Targets = judge(rep.Runs, o.cfg)
	rep.writeMarkdown(stdout)
	if *jsonPath != "" {
		if err := rep.writeJSON(*jsonPath); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if *check {
		return sanity(rep)
	}
	return nil
}

// suffix names one run's profile when an invocation makes several.
func suffix(path string, n int) string {
	if path == "" {
		return ""
	}
	return fmt.Sprintf("%s.%d", path, n)
}

// parseRuns pairs the -sessions and -duration lists.
func parseRuns(sessions, durations string) ([]int, []time.Duration, error) {
	var ns []int
	for _, f := range strings.Split(sessions, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, nil, fmt.Errorf("-sessions: %q is not a positive number", f)
		}
		ns = append(ns, n)
	}
	var ds []time.Duration
	for _, f := range strings.Split(durations, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d < time.Second {
			return nil, nil, fmt.Errorf("-duration: %q is not a duration of at least 1s", f)
		}
		ds = append(ds, d)
	}
	switch {
	case len(ds) == 1:
		for len(ds) < len(ns) {
			ds = append(ds, ds[0])
		}
	case len(ds) != len(ns):
		return nil, nil, fmt.Errorf("-duration has %d values for %d runs", len(ds), len(ns))
	}
	return ns, ds, nil
}

// sanity is -check: the machinery works end to end. It does not judge
// performance, which CI machines cannot promise.
func sanity(rep *Report) error {
	var problems []string
	for _, r := range rep.Runs {
		g := r.Gateway
		if n := g.errorsTotal(); n > 0 {
			problems = append(problems, fmt.Sprintf("%d sessions: %d errors", r.Sessions, n))
		}
		if g.Replies == 0 || g.E2E.N == 0 {
			problems = append(problems, fmt.Sprintf("%d sessions: no turn completed", r.Sessions))
		}
		if b := r.Baseline; b != nil && b.errorsTotal() > 0 {
			problems = append(problems, fmt.Sprintf("%d sessions: %d baseline errors", r.Sessions, b.errorsTotal()))
		}
	}
	if len(problems) > 0 {
		return errors.New("check failed: " + strings.Join(problems, "; "))
	}
	return nil
}
