package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// capacityOpts are the sessions-per-core search's settings.
type capacityOpts struct {
	enabled    bool
	start, max int
	duration   time.Duration
	latency    time.Duration // the added-latency p99 a load must keep to
	resolution float64       // stop when hi − lo ≤ resolution × lo
	runs       int           // at most this many probes per server
}

// Probe is one run of the search.
type Probe struct {
	Sessions int     `json:"sessions"`
	Pass     bool    `json:"pass"`
	Why      string  `json:"why,omitempty"` // what failed
	Dropped  float64 `json:"dropped_frames"`
	// AddedP99 is, for the gateway, end of speech → first audio byte less
	// the silence the VAD waited (the trace's endpoint_ms: -vad-silence
	// and the VAD's 10 ms window) and the provider latencies; for the
	// bare server, the round trip of an echoed frame.
	AddedP99    float64 `json:"added_p99_ms"`
	Handled     float64 `json:"handled_ratio"` // frames handled / frames sent
	CPUCores    float64 `json:"cpu_cores"`
	ClientLimit bool    `json:"client_limited,omitempty"` // the client could not keep pace: the run says nothing of the server
}

// Capacity is the search's outcome for one server.
type Capacity struct {
	Server   string  `json:"server"`   // gateway or baseline
	Sessions int     `json:"sessions"` // the largest load that passed
	Cores    int     `json:"cores"`    // the CPUs it ran on
	PerCore  float64 `json:"sessions_per_core"`
	// Bound says why the search stopped: "bisected" (between a pass and
	// a fail, or -capacity-runs), "max" (every load up to -capacity-max
	// passed), "runs" (-capacity-runs passes, no fail), "client" (the
	// client fell behind first: Sessions is a lower bound).
	Bound  string  `json:"bound"`
	Probes []Probe `json:"probes"`
}

// CapacityReport is both searches.
type CapacityReport struct {
	LatencyMS float64   `json:"added_latency_limit_ms"`
	Gateway   *Capacity `json:"gateway"`
	Baseline  *Capacity `json:"baseline,omitempty"`
}

// Ratio is the gateway's sessions per core over the bare server's.
func (c *CapacityReport) Ratio() float64 {
	if c == nil || c.Gateway == nil || c.Baseline == nil || c.Baseline.PerCore == 0 {
		return 0
	}
	return c.Gateway.PerCore / c.Baseline.PerCore
}

// findCapacity runs the search against the gateway and, unless -baseline
// is off, the bare server.
func (o *options) findCapacity(ctx context.Context) (*CapacityReport, error) {
	c := o.capacity
	if c.start < 1 || c.max < c.start || c.duration < 2*time.Second || c.resolution <= 0 || c.runs < 1 {
		return nil, errors.New("-capacity-start ≥ 1, -capacity-max ≥ it, -capacity-duration ≥ 2s, -capacity-resolution > 0 and -capacity-runs ≥ 1 are needed")
	}
	rep := &CapacityReport{LatencyMS: float64(c.latency) / float64(time.Millisecond)}
	var err error
	if rep.Gateway, err = o.search(ctx, "gateway", o.probeGateway); err != nil {
		return nil, err
	}
	if o.baseline && o.url == "" && ctx.Err() == nil {
		if rep.Baseline, err = o.search(ctx, "baseline", o.probeBaseline); err != nil {
			return nil, err
		}
	}
	return rep, ctx.Err()
}

// search finds the largest passing load: doubling from -capacity-start
// until a load fails (or -capacity-max passes), then bisecting between
// the last pass and the first fail.
func (o *options) search(ctx context.Context, server string, probe func(context.Context, int) (Probe, error)) (*Capacity, error) {
	c := o.capacity
	res := &Capacity{Server: server, Cores: o.serverCores()}
	lo, hi := 0, 0 // the largest pass; the smallest fail (0: none yet)
	try := func(n int) (bool, error) {
		p, err := probe(ctx, n)
		if err != nil {
			return false, fmt.Errorf("%s, %d sessions: %w", server, n, err)
		}
		res.Probes = append(res.Probes, p)
		verdict := "pass"
		if !p.Pass {
			verdict = "fail: " + p.Why
		}
		o.logf("%s sessions-per-core search: %d sessions: %s", server, n, verdict)
		return p.Pass, nil
	}
	for n := c.start; len(res.Probes) < c.runs; n = min(2*n, c.max) {
		ok, err := try(n)
		if err != nil {
			return nil, err
		}
		if !ok {
			hi = n
			break
		}
		lo = n
		if n == c.max || ctx.Err() != nil {
			res.Bound = "max"
			break
		}
	}
	for hi > 0 && float64(hi-lo) > c.resolution*float64(max(lo, 1)) && hi-lo > 1 && len(res.Probes) < c.runs && ctx.Err() == nil {
		mid := (lo + hi) / 2
		ok, err := try(mid)
		if err != nil {
			return nil, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	if res.Bound == "" && hi == 0 {
		res.Bound = "runs" // -capacity-runs passes, none failed
	}
	if res.Bound == "" {
		res.Bound = "bisected"
		for _, p := range res.Probes {
			if p.Sessions == hi && p.ClientLimit {
				res.Bound = "client"
			}
		}
	}
	res.Sessions = lo
	res.PerCore = float64(lo) / float64(max(res.Cores, 1))
	return res, ctx.Err()
}

// serverCores is how many CPUs the server under test may use.
func (o *options) serverCores() int {
	if o.pin.server != nil {
		return o.pin.server.count()
	}
	return runtime.NumCPU()
}

// probeGateway is one short gateway run, judged on 0 dropped frames and
// the added latency.
func (o *options) probeGateway(ctx context.Context, n int) (Probe, error) {
	g, err := o.runGateway(ctx, n, o.capacity.duration, true)
	if err != nil {
		return Probe{}, err
	}
	p := Probe{Sessions: n, Dropped: g.DroppedFrames, AddedP99: g.BeyondVAD.P99, CPUCores: g.CPUCores,
		Handled: ratio(g.HandledPerSec, g.SentPerSec)}
	p.judge(&g.Side, g.errorsTotal(), g.BeyondVAD.N, o.capacity.latency)
	return p, nil
}

// probeBaseline is one short run of the bare server, judged on its
// keeping up with the frames and the echo round trip.
func (o *options) probeBaseline(ctx context.Context, n int) (Probe, error) {
	b, err := o.runBaseline(ctx, n, o.capacity.duration)
	if err != nil {
		return Probe{}, err
	}
	p := Probe{Sessions: n, AddedP99: b.Echo.P99, CPUCores: b.CPUCores, Handled: ratio(b.HandledPerSec, b.SentPerSec)}
	p.judge(b, b.errorsTotal(), b.Echo.N, o.capacity.latency)
	return p, nil
}

// handledFloor is the share of the frames sent that a server must have
// read by the end of the window: below it, frames are queueing in its
// socket buffers (the bare server drops nothing; it falls behind).
const handledFloor = 0.99

// judge sets Pass and Why from a run's figures.
func (p *Probe) judge(s *Side, errs int64, samples int, limit time.Duration) {
	limitMS := float64(limit) / float64(time.Millisecond)
	switch {
	case s.Crashed != "":
		p.Why = "the server died: " + s.Crashed
	case errs > 0:
		p.Why = fmt.Sprintf("%d errors", errs)
	case s.clientOverloaded():
		p.Why = fmt.Sprintf("the client fell behind (send lag p99 %.1f ms, %d frames skipped)", s.SendLag.P99, s.SkippedFrames)
		p.ClientLimit = true
	case p.Dropped > 0:
		p.Why = fmt.Sprintf("%.0f frames dropped", p.Dropped)
	case samples == 0:
		p.Why = "no latency measured"
	case p.AddedP99 > limitMS:
		p.Why = fmt.Sprintf("added latency p99 %.1f ms > %.0f ms", p.AddedP99, limitMS)
	case p.Handled < handledFloor:
		p.Why = fmt.Sprintf("handled %.3f of the frames sent", p.Handled)
	default:
		p.Pass = true
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// pinning parses -server-cpus and -client-cpus and pins this process (and,
// attached with -url, the -pid process) accordingly.
func (o *options) pinning(server, client string) error {
	var err error
	if server != "" {
		if o.pin.server, err = parseCPUs(server); err != nil {
			return fmt.Errorf("-server-cpus: %w", err)
		}
	}
	if client != "" {
		if o.pin.client, err = parseCPUs(client); err != nil {
			return fmt.Errorf("-client-cpus: %w", err)
		}
		if err := o.pin.client.pinSelf(); err != nil {
			return fmt.Errorf("-client-cpus: %w", err)
		}
	}
	if o.pin.server != nil && o.pin.client != nil && o.pin.server.overlaps(o.pin.client) {
		o.logf("-server-cpus %s and -client-cpus %s overlap: the client competes with the server", server, client)
	}
	if o.pin.server != nil && o.url != "" {
		if err := o.pin.server.pinThreads(o.pid); err != nil {
			return fmt.Errorf("-server-cpus with -pid %d: %w", o.pid, err)
		}
	}
	return nil
}
