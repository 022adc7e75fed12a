package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCPUList(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		want    []int
		wantErr bool
	}{
		{spec: "0", want: []int{0}},
		{spec: "1-3", want: []int{1, 2, 3}},
		{spec: "0, 2-3,2", want: []int{0, 2, 3}},
		{spec: "", wantErr: true},
		{spec: "3-1", wantErr: true},
		{spec: "-1", wantErr: true},
		{spec: "a", wantErr: true},
		{spec: "1-", wantErr: true},
	} {
		got, err := cpuList(tc.spec)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("cpuList(%q) = %v, %v; want %v, error %v", tc.spec, got, err, tc.want, tc.wantErr)
		}
	}
	if _, err := parseCPUs("100000"); err == nil {
		t.Error("parseCPUs accepted a CPU the machine does not have")
	}
}

// TestSearch drives the sessions-per-core search with a server that holds
// up to a known load.
func TestSearch(t *testing.T) {
	for _, tc := range []struct {
		name      string
		limit     int // the most sessions that pass
		client    int // from this load on the client falls behind (0: never)
		max, runs int
		wantBound string
		wantLo    int // the result is in [wantLo, limit]
		wantLoads []int
	}{
		{name: "bisected", limit: 730, max: 6000, runs: 20, wantBound: "bisected", wantLo: 730 * 95 / 100},
		{name: "all pass", limit: 1 << 30, max: 1000, runs: 20, wantBound: "max", wantLo: 1000, wantLoads: []int{250, 500, 1000}},
		{name: "first fails", limit: 100, max: 6000, runs: 20, wantBound: "bisected", wantLo: 95},
		{name: "client first", limit: 5000, client: 900, max: 6000, runs: 20, wantBound: "client", wantLo: 855},
		{name: "runs cap", limit: 1 << 30, max: 6000, runs: 2, wantBound: "runs", wantLo: 500, wantLoads: []int{250, 500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &options{capacity: capacityOpts{start: 250, max: tc.max, runs: tc.runs, resolution: 0.05,
				duration: 10 * time.Second, latency: 20 * time.Millisecond}, logf: func(string, ...any) {}}
			probe := func(_ context.Context, n int) (Probe, error) {
				p := Probe{Sessions: n, Pass: n <= tc.limit}
				if tc.client > 0 && n >= tc.client {
					p.Pass, p.ClientLimit = false, true
				}
				return p, nil
			}
			c, err := o.search(context.Background(), "gateway", probe)
			if err != nil {
				t.Fatal(err)
			}
			hi := tc.limit
			if tc.client > 0 {
				hi = tc.client - 1
			}
			if c.Bound != tc.wantBound || c.Sessions < tc.wantLo || c.Sessions > max(hi, tc.wantLo) && tc.wantBound != "max" {
				t.Errorf("found %d (%s) in %d runs, want %s in [%d, %d]", c.Sessions, c.Bound, len(c.Probes), tc.wantBound, tc.wantLo, hi)
			}
			if len(c.Probes) > tc.runs {
				t.Errorf("%d runs, at most %d allowed", len(c.Probes), tc.runs)
			}
			var loads []int
			for _, p := range c.Probes {
				loads = append(loads, p.Sessions)
			}
			if tc.wantLoads != nil && !slices.Equal(loads, tc.wantLoads) {
				t.Errorf("loads tried %v, want %v", loads, tc.wantLoads)
			}
			if c.PerCore != float64(c.Sessions)/float64(c.Cores) {
				t.Errorf("per core %v for %d sessions on %d CPUs", c.PerCore, c.Sessions, c.Cores)
			}
		})
	}
}

func TestProbeJudge(t *testing.T) {
	ok := Side{SendLag: Dist{N: 10, P99: 2}}
	for _, tc := range []struct {
		name     string
		side     Side
		p        Probe
		errs     int64
		samples  int
		wantPass bool
		wantWhy  string
	}{
		{name: "pass", side: ok, p: Probe{AddedP99: 12, Handled: 1}, samples: 5, wantPass: true},
		{name: "latency", side: ok, p: Probe{AddedP99: 25, Handled: 1}, samples: 5, wantWhy: "added latency p99 25.0 ms"},
		{name: "dropped", side: ok, p: Probe{Dropped: 3, Handled: 1}, samples: 5, wantWhy: "3 frames dropped"},
		{name: "behind", side: ok, p: Probe{AddedP99: 1, Handled: 0.9}, samples: 5, wantWhy: "handled 0.900"},
		{name: "errors", side: ok, p: Probe{Handled: 1}, errs: 2, samples: 5, wantWhy: "2 errors"},
		{name: "no samples", side: ok, p: Probe{Handled: 1}, wantWhy: "no latency"},
		{name: "client", side: Side{SendLag: Dist{N: 10, P99: 30}}, p: Probe{Handled: 1}, samples: 5, wantWhy: "client fell behind"},
	} {
		p := tc.p
		p.judge(&tc.side, tc.errs, tc.samples, 20*time.Millisecond)
		if p.Pass != tc.wantPass || !strings.Contains(p.Why, tc.wantWhy) {
			t.Errorf("%s: pass %v, why %q; want %v, %q", tc.name, p.Pass, p.Why, tc.wantPass, tc.wantWhy)
		}
	}
}

func TestHeadline(t *testing.T) {
	cfg := latencies{Silence: 300 * time.Millisecond}
	run := func(n int, gwCPU, bareCPU, hopP99, e2eP99 float64) *Result {
		g := &Gateway{Side: Side{CPUCores: gwCPU, HandledPerSec: 50000}, E2E: Dist{N: 100, P50: 320, P99: e2eP99},
			Hops: map[string]Dist{"send": {N: 100, P50: 0.1, P99: hopP99}}}
		return &Result{Sessions: n, Gateway: g, Baseline: &Side{CPUCores: bareCPU, HandledPerSec: 50000}, Config: cfg}
	}
	for _, tc := range []struct {
		name string
		rep  Report
		want map[string]string // verdict by key
	}{
		{name: "all met", rep: Report{
			Capacity: &CapacityReport{LatencyMS: 20, Gateway: &Capacity{PerCore: 1700, Sessions: 1700, Cores: 1, Bound: "bisected"},
				Baseline: &Capacity{PerCore: 2000, Sessions: 2000, Cores: 1, Bound: "bisected"}},
			Runs: []*Result{run(500, 1, 0.1, 9, 400), run(1000, 0.55, 0.5, 1.5, 318)},
		}, want: map[string]string{"per_core": "PASS", "cpu_frame": "PASS", "send_hop": "PASS", "e2e_p99": "PASS"}},
		{name: "all missed, no search", rep: Report{
			Runs: []*Result{run(1000, 0.9, 0.5, 5, 340)},
		}, want: map[string]string{"per_core": "—", "cpu_frame": "MISS", "send_hop": "MISS", "e2e_p99": "MISS"}},
		{name: "lower bounds decide nothing", rep: Report{
			Capacity: &CapacityReport{LatencyMS: 20, Gateway: &Capacity{PerCore: 1000, Sessions: 1000, Cores: 1, Bound: "client"},
				Baseline: &Capacity{PerCore: 2000, Sessions: 2000, Cores: 1, Bound: "bisected"}},
		}, want: map[string]string{"per_core": "—"}},
		{name: "a lower bound above the target", rep: Report{
			Capacity: &CapacityReport{LatencyMS: 20, Gateway: &Capacity{PerCore: 1900, Sessions: 1900, Cores: 1, Bound: "max"},
				Baseline: &Capacity{PerCore: 2000, Sessions: 2000, Cores: 1, Bound: "bisected"}},
		}, want: map[string]string{"per_core": "PASS"}},
		{name: "search short of the ratio", rep: Report{
			Capacity: &CapacityReport{LatencyMS: 20, Gateway: &Capacity{PerCore: 1000, Sessions: 1000, Cores: 1, Bound: "bisected"},
				Baseline: &Capacity{PerCore: 2000, Sessions: 2000, Cores: 1, Bound: "bisected"}},
		}, want: map[string]string{"per_core": "MISS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			tc.rep.writeHeadline(&b)
			got := map[string]string{}
			for _, v := range tc.rep.Headline {
				got[v.key] = v.Verdict
			}
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s: %q, want %q\n%s", k, got[k], want, b.String())
				}
			}
			if len(tc.rep.Runs) > 0 && !strings.Contains(b.String(), "1000 sessions") {
				t.Errorf("the per-load rows do not come from the 1,000-session run:\n%s", b.String())
			}
		})
	}
}
