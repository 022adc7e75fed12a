package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/voicegate/voicegate/pipeline"
)

// options are the settings shared by every run of an invocation.
type options struct {
	url         string // attach: WebSocket URL
	admin       string // attach: the gateway's admin listener, http://host:port
	pid         int    // attach: gateway pid
	dir         string // config and logs
	cfg         latencies
	voice       time.Duration
	pauseMin    time.Duration
	pauseMax    time.Duration
	ramp        time.Duration // 0: N/250 s, at least 1 s
	shards      int
	baseline    bool
	baselineDur time.Duration // 0: the run's duration
	echoEvery   int
	allocWindow time.Duration
	maxLag      time.Duration
	quietWait   time.Duration // wait up to this long for the machine to be idle before each run
	cpuProfile  string        // write the gateway's CPU profile of each run's speech phase here
	heapProfile string        // write the gateway's heap profile with the run's sessions open and idle here
	pin         pinning       // -server-cpus, -client-cpus
	capacity    capacityOpts  // -sessions-per-core
	logf        func(format string, args ...any)
}

// Side is what one server (gateway or baseline) did under load.
type Side struct {
	Connected     int            `json:"connected"`
	OpenAtEnd     int            `json:"open_at_end"`
	ConnectErrors int64          `json:"connect_errors"`
	WriteErrors   int64          `json:"write_errors"`
	Disconnects   int64          `json:"disconnects"`
	Seconds       float64        `json:"seconds"`
	FramesSent    int64          `json:"frames_sent"`
	SentPerSec    float64        `json:"frames_sent_per_s"`
	HandledPerSec float64        `json:"frames_handled_per_s"` // by the server's own counters: received less dropped
	SendLag       Dist           `json:"send_lag"`
	LateFrames    uint64         `json:"late_frames"`               // sent ≥ 20 ms after due
	SkippedFrames int64          `json:"skipped_frames"`            // not sent: the client was more than -max-lag behind
	Echo          Dist           `json:"echo_round_trip,omitempty"` // baseline: an echoed frame, written → echo read
	CPUCores      float64        `json:"cpu_cores"`
	ClientCores   float64        `json:"client_cpu_cores"`
	OtherCores    float64        `json:"other_cpu_cores"` // everything else on the machine: other processes, the kernel
	RSSPeakMiB    float64        `json:"rss_peak_mib"`
	Errors        map[string]int `json:"errors,omitempty"`
	Crashed       string         `json:"crashed,omitempty"`
}

// clientOverloaded reports whether the client's own pacing failed badly
// enough that latency figures measure the client as much as the server.
func (s *Side) clientOverloaded() bool {
	return s.SkippedFrames > 0 || s.SendLag.P99 > float64(frameDur/time.Millisecond)
}

// errorsTotal counts everything that went wrong on this side.
func (s *Side) errorsTotal() int64 {
	n := s.ConnectErrors + s.WriteErrors + s.Disconnects
	if s.Crashed != "" {
		n++
	}
	return n
}

// Gateway is one gateway run.
type Gateway struct {
	Side
	ErrorEvents    int64           `json:"error_events"`
	DroppedFrames  float64         `json:"dropped_frames"`
	SlowConsumers  float64         `json:"slow_consumer_closes"`
	Utterances     int64           `json:"utterances"`
	Replies        int64           `json:"replies_with_audio"`
	Responses      int64           `json:"responses_done"`
	Cancelled      int64           `json:"responses_cancelled"`
	E2E            Dist            `json:"end_of_speech_to_first_audio"`
	Added          Dist            `json:"gateway_added"`
	Untraced       Dist            `json:"e2e_minus_trace"`  // what the client saw beyond first_audio_sent_ms
	BeyondVAD      Dist            `json:"added_beyond_vad"` // e2e − trace endpoint_ms − providers: what the sessions-per-core search limits
	AudioMsgs      int64           `json:"audio_messages"`
	AudioBytes     int64           `json:"audio_bytes"`
	TextMsgs       int64           `json:"text_messages"`
	Stages         map[string]Dist `json:"trace_stages"`
	Hops           map[string]Dist `json:"trace_hops_added"`
	HeapPerSession float64         `json:"heap_per_idle_session_bytes"`
	StackPerSess   float64         `json:"stack_per_idle_session_bytes"`
	RSSPerSession  float64         `json:"rss_per_idle_session_bytes"`
	HeapGCed       bool            `json:"heap_after_forced_gc"`
	AllocsPerFrame float64         `json:"allocs_per_frame"`
	AllocsPerTurn  float64         `json:"allocs_per_turn"`
	Profile        string          `json:"cpu_profile,omitempty"`
	HeapProfile    string          `json:"heap_profile,omitempty"`
}

func (g *Gateway) errorsTotal() int64 { return g.Side.errorsTotal() + g.ErrorEvents }

// Result is one run: the gateway and, if asked, the baseline at the same load.
type Result struct {
	Sessions int       `json:"sessions"`
	Duration float64   `json:"duration_s"`
	Gateway  *Gateway  `json:"gateway"`
	Baseline *Side     `json:"baseline,omitempty"`
	Config   latencies `json:"config"`
}

// ThroughputRatio is gateway/baseline frames handled per second.
func (r *Result) ThroughputRatio() float64 {
	if r.Baseline == nil || r.Baseline.HandledPerSec == 0 {
		return 0
	}
	return r.Gateway.HandledPerSec / r.Baseline.HandledPerSec
}

func (o *options) newLoad(protocol bool) *load {
	return &load{
		clk: clock{epoch: time.Now()}, fr: newFrames(o.voice), cfg: o.cfg, protocol: protocol, maxLag: o.maxLag, echoEvery: o.echoEvery,
		pat: pattern{pauseMin: int(o.pauseMin / frameDur), pauseMax: int(o.pauseMax / frameDur)},
	}
}

func (o *options) rampFor(n int) time.Duration {
	if o.ramp > 0 {
		return o.ramp
	}
	return max(time.Second, time.Duration(n)*time.Second/250)
}

// open dials n sessions spread evenly over ramp.
func (l *load) open(ctx context.Context, url string, n int, ramp time.Duration) []*session {
	out := make([]*session, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(ramp * time.Duration(i) / time.Duration(n))); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s, err := l.dial(ctx, url, i)
			if err != nil {
				l.connectErrs.Add(1)
				l.noteErr("connect", err)
				return
			}
			out[i] = s
		}()
	}
	wg.Wait()
	live := out[:0]
	for _, s := range out {
		if s != nil {
			live = append(live, s)
		}
	}
	return live
}

// window measures a target process and this one over a phase.
type window struct {
	t0         time.Time
	srv, self  procSample
	busy       time.Duration
	metrics    map[string]float64
	sent       int64
	pid        int
	rssPeak    int64
	stopSample chan struct{}
	sampled    sync.WaitGroup
}

func openWindow(t *target, sc *scheduler) (*window, error) {
	w := &window{pid: t.pid, stopSample: make(chan struct{})}
	var err error
	if w.metrics, err = t.scrape(); err != nil {
		return nil, err
	}
	if w.srv, err = readProc(t.pid); err != nil {
		return nil, err
	}
	if w.self, err = readProc(os.Getpid()); err != nil {
		return nil, err
	}
	w.busy, _ = machineBusy()
	w.sent, w.t0, w.rssPeak = sc.sent(), time.Now(), w.srv.RSS
	w.sampled.Add(1)
	go func() {
		defer w.sampled.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-w.stopSample:
				return
			case <-tick.C:
				if p, err := readProc(w.pid); err == nil {
					w.rssPeak = max(w.rssPeak, p.RSS)
				}
			}
		}
	}()
	return w, nil
}

// close fills side with the phase's rates and returns the metric deltas.
func (w *window) close(t *target, sc *scheduler, side *Side, framesMetric string) (map[string]float64, error) {
	close(w.stopSample)
	w.sampled.Wait()
	secs := time.Since(w.t0).Seconds()
	m, err := t.scrape()
	if err != nil {
		return nil, err
	}
	srv, err := readProc(t.pid)
	if err != nil {
		return nil, err
	}
	self, _ := readProc(os.Getpid())
	busy, _ := machineBusy()
	side.Seconds = secs
	side.FramesSent = sc.sent() - w.sent
	side.SentPerSec = float64(side.FramesSent) / secs
	side.CPUCores = (srv.CPU - w.srv.CPU).Seconds() / secs
	side.ClientCores = (self.CPU - w.self.CPU).Seconds() / secs
	side.OtherCores = max(0, (busy-w.busy).Seconds()/secs-side.CPUCores-side.ClientCores)
	side.RSSPeakMiB = float64(max(w.rssPeak, srv.RSS)) / (1 << 20)
	delta := make(map[string]float64, len(m))
	for k, v := range m {
		delta[k] = v - w.metrics[k]
	}
	// A frame the gateway queued and then dropped was received, not handled.
	side.HandledPerSec = (delta[framesMetric] - delta[droppedMetric]) / secs
	return delta, nil
}

const (
	gatewayFramesMetric  = "voicegate_audio_frames_in_total"
	droppedMetric        = "voicegate_audio_frames_dropped_total"
	baselineFramesMetric = "wsbaseline_frames_in_total"
)

// runGateway measures the gateway with n sessions streaming for d. A probe
// (a run of the sessions-per-core search) skips the heap, allocation and
// profile measurements and measures the speaking phase only.
func (o *options) runGateway(ctx context.Context, n int, d time.Duration, probe bool) (_ *Gateway, err error) {
	o.waitQuiet(ctx)
	var t *target
	if o.url == "" {
		t, err = spawnGateway(ctx, o.dir, o.cfg, max(5000, 2*n), o.pin)
	} else {
		t, err = attach(o.url, o.admin, o.pid)
	}
	if err != nil {
		return nil, err
	}
	g := &Gateway{Stages: map[string]Dist{}, Hops: map[string]Dist{}}
	defer func() {
		if serr := t.stop(); serr != nil {
			g.Crashed = serr.Error()
		}
	}()
	l := o.newLoad(true)

	// Heap per idle session: live heap (after a forced GC) with n sessions
	// open and quiet, against none.
	var m0 memStats
	var p0 procSample
	if !probe {
		_ = pipeline.Sleep(ctx, 500*time.Millisecond)
		if m0, err = t.memstats(true); err != nil {
			return nil, err
		}
		p0, _ = readProc(t.pid)
	}
	ramp := o.rampFor(n)
	o.logf("gateway: opening %d sessions over %v", n, ramp)
	sessions := l.open(ctx, t.ws, n, ramp)
	g.Connected = len(sessions)
	if g.Connected == 0 {
		return nil, fmt.Errorf("no session could be opened: %v", l.errs)
	}
	sc := newScheduler(l, sessions, o.shards)
	var idleRate float64
	if probe {
		l.mode.Store(modeSilence)
		sc.start()
		defer sc.halt()
		_ = pipeline.Sleep(ctx, time.Second)
	} else {
		if idleRate, err = o.measureIdle(ctx, t, g, l, sc, m0, p0); err != nil {
			return nil, err
		}
		defer sc.halt()
	}

	// The measured phase: utterances and pauses at real time.
	o.logf("gateway: %d sessions speaking for %v", g.Connected, d)
	w, err := openWindow(t, sc)
	if err != nil {
		return nil, err
	}
	mal0, _ := t.memstats(false)
	l.mode.Store(modeSpeech)
	l.measuring.Store(true)
	var prof sync.WaitGroup
	if o.cpuProfile != "" && d >= 4*time.Second && !probe {
		g.Profile = o.cpuProfile
		prof.Add(1)
		go func() {
			defer prof.Done()
			_ = pipeline.Sleep(ctx, time.Second)
			if err := t.cpuProfile(g.Profile, d-2*time.Second); err != nil {
				o.logf("cpu profile: %v", err)
				g.Profile = ""
			}
		}()
	}
	_ = pipeline.Sleep(ctx, d)
	l.measuring.Store(false)
	delta, err := w.close(t, sc, &g.Side, gatewayFramesMetric)
	if err != nil {
		return nil, err
	}
	mal1, _ := t.memstats(false)
	prof.Wait()
	g.DroppedFrames = delta[droppedMetric]
	g.SlowConsumers = delta["voicegate_slow_consumer_closes_total"]

	// Let utterances in flight end and their replies arrive.
	l.mode.Store(modeFinish)
	_ = pipeline.Sleep(ctx, o.voice+o.cfg.Silence+o.cfg.providers()+2*time.Second)
	sc.halt()
	lag, skipped := sc.lag()
	g.SendLag, g.LateFrames, g.SkippedFrames = lag.dist(), lag.late, skipped
	for _, s := range sessions {
		if !s.dead.Load() {
			g.OpenAtEnd++
		}
	}
	l.closeAll(sessions)

	g.Utterances = utterances(sessions)
	g.Replies, g.Responses, g.Cancelled = l.replies.Load(), l.responses.Load(), l.cancelled.Load()
	g.ConnectErrors, g.WriteErrors, g.Disconnects = l.connectErrs.Load(), l.writeErrs.Load(), l.disconnects.Load()
	g.ErrorEvents = l.errorEvents.Load()
	g.AudioMsgs, g.AudioBytes, g.TextMsgs = l.audioMsgs.Load(), l.audioBytes.Load(), l.textMsgs.Load()
	g.Errors = l.errs
	g.E2E = l.e2e.dist()
	addedMS := float64(o.cfg.Silence+o.cfg.providers()) / float64(time.Millisecond)
	l.e2e.mu.Lock()
	added := make([]float64, len(l.e2e.ms))
	for i, v := range l.e2e.ms {
		added[i] = v - addedMS
	}
	l.e2e.mu.Unlock()
	g.Added = distOf(added)
	g.Untraced = l.hidden.dist()
	g.BeyondVAD = l.beyondVAD.dist()
	for i := range nStages {
		if d := l.stage[i].dist(); d.N > 0 {
			g.Stages[stageNames[i]] = d
		}
	}
	for i := range nHops {
		if d := l.hop[i].dist(); d.N > 0 {
			g.Hops[hopNames[i]] = d
		}
	}
	if g.Replies > 0 {
		g.AllocsPerTurn = (float64(mal1.Mallocs-mal0.Mallocs) - idleRate*g.Seconds -
			g.AllocsPerFrame*g.HandledPerSec*g.Seconds) / float64(g.Replies)
	}
	return g, nil
}

// measureIdle measures, with the sessions open, the heap per idle session
// and then, with every session streaming silence, allocations per frame; it
// leaves sc running (silence) and returns the idle allocation rate.
func (o *options) measureIdle(ctx context.Context, t *target, g *Gateway, l *load, sc *scheduler, m0 memStats, p0 procSample) (float64, error) {
	_ = pipeline.Sleep(ctx, 2*time.Second)
	m1, err := t.memstats(true)
	if err != nil {
		return 0, err
	}
	p1, _ := readProc(t.pid)
	g.HeapGCed = m1.GCed
	g.HeapPerSession = float64(m1.HeapInuse-m0.HeapInuse) / float64(g.Connected)
	g.StackPerSess = float64(m1.StackInuse-m0.StackInuse) / float64(g.Connected)
	g.RSSPerSession = float64(p1.RSS-p0.RSS) / float64(g.Connected)
	if o.heapProfile != "" {
		if err := t.heapProfile(o.heapProfile); err != nil {
			o.logf("heap profile: %v", err)
		} else {
			g.HeapProfile = o.heapProfile
		}
	}

	// Allocations per frame: mallocs while every session streams silence,
	// less the idle rate (heartbeats, these scrapes), per frame received.
	a0, _ := t.memstats(false)
	_ = pipeline.Sleep(ctx, o.allocWindow)
	a1, _ := t.memstats(false)
	idleRate := float64(a1.Mallocs-a0.Mallocs) / o.allocWindow.Seconds()
	l.mode.Store(modeSilence)
	sc.start()
	o.logf("gateway: streaming silence (allocation window %v)", o.allocWindow)
	_ = pipeline.Sleep(ctx, time.Second)
	f0, _ := t.scrape()
	a2, _ := t.memstats(false)
	t2 := time.Now()
	_ = pipeline.Sleep(ctx, o.allocWindow)
	a3, _ := t.memstats(false)
	f1, _ := t.scrape()
	if g.HeapProfile != "" {
		// With the idle profile as -base, alloc_objects shows what the
		// per-frame path allocates.
		if err := t.heapProfile(g.HeapProfile + ".silence"); err != nil {
			o.logf("heap profile: %v", err)
		}
	}
	if frames := f1[gatewayFramesMetric] - f0[gatewayFramesMetric]; frames > 0 {
		g.AllocsPerFrame = max(0, (float64(a3.Mallocs-a2.Mallocs)-idleRate*time.Since(t2).Seconds())/frames)
	}
	return idleRate, nil
}

// runBaseline puts the same load on the bare echo server.
func (o *options) runBaseline(ctx context.Context, n int, d time.Duration) (_ *Side, err error) {
	o.waitQuiet(ctx)
	t, err := spawnBaseline(ctx, o.dir, o.echoEvery, o.pin)
	if err != nil {
		return nil, err
	}
	b := &Side{}
	defer func() {
		if serr := t.stop(); serr != nil {
			b.Crashed = serr.Error()
		}
	}()
	l := o.newLoad(false)
	o.logf("baseline: opening %d connections", n)
	sessions := l.open(ctx, t.ws, n, o.rampFor(n))
	b.Connected = len(sessions)
	if b.Connected == 0 {
		return nil, fmt.Errorf("baseline: no connection could be opened: %v", l.errs)
	}
	sc := newScheduler(l, sessions, o.shards)
	l.mode.Store(modeSpeech)
	sc.start()
	defer sc.halt()
	_ = pipeline.Sleep(ctx, time.Second)
	o.logf("baseline: %d connections streaming for %v", b.Connected, d)
	w, err := openWindow(t, sc)
	if err != nil {
		return nil, err
	}
	l.measuring.Store(true)
	_ = pipeline.Sleep(ctx, d)
	l.measuring.Store(false)
	if _, err := w.close(t, sc, b, baselineFramesMetric); err != nil {
		return nil, err
	}
	sc.halt()
	lag, skipped := sc.lag()
	b.SendLag, b.LateFrames, b.SkippedFrames = lag.dist(), lag.late, skipped
	b.Echo = l.echo.dist()
	for _, s := range sessions {
		if !s.dead.Load() {
			b.OpenAtEnd++
		}
	}
	l.closeAll(sessions)
	b.ConnectErrors, b.WriteErrors, b.Disconnects = l.connectErrs.Load(), l.writeErrs.Load(), l.disconnects.Load()
	b.Errors = l.errs
	return b, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// waitQuiet waits, up to o.quietWait, until the machine has been nearly
// idle (under a quarter of a core busy) for two seconds: on a shared box a
// someone else's build would otherwise be measured as the gateway's latency.
func (o *options) waitQuiet(ctx context.Context) {
	if o.quietWait <= 0 {
		return
	}
	deadline := time.Now().Add(o.quietWait)
	for {
		b0, err := machineBusy()
		if err != nil {
			return
		}
		if pipeline.Sleep(ctx, 2*time.Second) != nil {
			return
		}
		b1, _ := machineBusy()
		busy := (b1 - b0).Seconds() / 2
		if busy < 0.25 {
			return
		}
		if time.Now().After(deadline) {
			o.logf("machine still busy (%.2f cores) after %v: measuring anyway", busy, o.quietWait)
			return
		}
		o.logf("waiting for the machine to quieten (%.2f cores busy)", busy)
	}
}
