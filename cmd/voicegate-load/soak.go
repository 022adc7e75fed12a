package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"
)

// A soak run keeps n sessions talking for a long time and samples, once per
// interval, what a leak or a slow drift would move: the gateway's RSS and
// goroutines, and the p99 of end of speech → first audio byte over that
// interval. It passes when all three stay flat from the settle sample on.

// soakSample is one interval of a soak run.
type soakSample struct {
	At         time.Duration `json:"at"`
	RSSMiB     float64       `json:"rss_mib"`
	Goroutines float64       `json:"goroutines"`
	E2EP99MS   float64       `json:"e2e_p99_ms"`
	Turns      int           `json:"turns"`
}

// soakReport is a soak run's samples and verdict.
type soakReport struct {
	Sessions int           `json:"sessions"`
	Duration time.Duration `json:"duration"`
	Interval time.Duration `json:"interval"`
	Settle   int           `json:"settle_sample"` // the sample drift is measured from (1-based)
	MaxDrift float64       `json:"max_drift"`     // allowed relative drift
	Samples  []soakSample  `json:"samples"`
	Errors   int64         `json:"errors"`
	Verdicts []string      `json:"verdicts"`
	Pass     bool          `json:"pass"`
}

// runSoak measures a spawned gateway with n sessions speaking for d.
func (o *options) runSoak(ctx context.Context, n int, d, every time.Duration, settle int) (*soakReport, error) {
	t, err := spawnGateway(ctx, o.dir, o.cfg, max(5000, 2*n), o.pin)
	if err != nil {
		return nil, err
	}
	defer t.stop()
	l := o.newLoad(true)
	o.logf("soak: opening %d sessions over %v", n, o.rampFor(n))
	sessions := l.open(ctx, t.ws, n, o.rampFor(n))
	if len(sessions) == 0 {
		return nil, fmt.Errorf("no session could be opened: %v", l.errs)
	}
	defer l.closeAll(sessions)
	sc := newScheduler(l, sessions, o.shards)
	l.mode.Store(modeSpeech)
	sc.start()
	defer sc.halt()

	rep := &soakReport{Sessions: len(sessions), Duration: d, Interval: every, Settle: settle, MaxDrift: 0.10}
	start := time.Now()
	seen := 0
	tick := time.NewTicker(every)
	defer tick.Stop()
	for time.Since(start) < d && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		p, perr := readProc(t.pid)
		m, merr := t.scrape()
		if perr != nil || merr != nil {
			return nil, fmt.Errorf("sampling the gateway: %v %v", perr, merr)
		}
		dist, k := l.e2e.since(seen)
		seen += k
		s := soakSample{At: time.Since(start).Round(time.Second), RSSMiB: float64(p.RSS) / (1 << 20),
			Goroutines: m["go_goroutines"], E2EP99MS: dist.P99, Turns: k}
		rep.Samples = append(rep.Samples, s)
		o.logf("soak: %v rss %.0f MiB, %0.f goroutines, e2e p99 %.1f ms over %d turns",
			s.At, s.RSSMiB, s.Goroutines, s.E2EP99MS, s.Turns)
	}
	rep.Errors = l.connectErrs.Load() + l.writeErrs.Load() + l.disconnects.Load() + l.errorEvents.Load()
	rep.judge()
	return rep, ctx.Err()
}

// judge passes the run when, from the settle sample on, no sample of RSS,
// goroutines or p99 latency is further than MaxDrift from that sample's
// value, every interval completed turns, and nothing failed.
func (r *soakReport) judge() {
	r.Pass = r.Errors == 0
	if len(r.Samples) < r.Settle+1 {
		r.Verdicts = append(r.Verdicts, fmt.Sprintf("too short: %d samples, drift is measured from sample %d on", len(r.Samples), r.Settle))
		r.Pass = false
		return
	}
	base := r.Samples[r.Settle-1]
	for _, m := range []struct {
		name string
		get  func(soakSample) float64
	}{
		{"RSS", func(s soakSample) float64 { return s.RSSMiB }},
		{"goroutines", func(s soakSample) float64 { return s.Goroutines }},
		{"e2e p99", func(s soakSample) float64 { return s.E2EP99MS }},
	} {
		worst := 0.0
		for _, s := range r.Samples[r.Settle-1:] {
			if b := m.get(base); b > 0 {
				worst = math.Max(worst, math.Abs(m.get(s)-b)/b)
			}
		}
		ok := worst <= r.MaxDrift
		r.Pass = r.Pass && ok
		r.Verdicts = append(r.Verdicts, fmt.Sprintf("%s: worst drift %.1f%% from sample %d (limit %.0f%%) %s",
			m.name, 100*worst, r.Settle, 100*r.MaxDrift, passMiss(ok)))
	}
	for _, s := range r.Samples {
		if s.Turns == 0 {
			r.Pass = false
			r.Verdicts = append(r.Verdicts, fmt.Sprintf("no turn completed in the interval ending at %v", s.At))
			break
		}
	}
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func (r *soakReport) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "Soak: %d sessions talking for %v, sampled every %v; PASS when RSS, goroutines and the p99 of end of speech → first audio byte stay within %.0f%% of sample %d, with no error.\n\n",
		r.Sessions, r.Duration, r.Interval, 100*r.MaxDrift, r.Settle)
	fmt.Fprintln(w, "| at | gateway RSS (MiB) | goroutines | e2e p99 (ms) | turns |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, s := range r.Samples {
		fmt.Fprintf(w, "| %v | %.0f | %.0f | %.1f | %d |\n", s.At, s.RSSMiB, s.Goroutines, s.E2EP99MS, s.Turns)
	}
	fmt.Fprintf(w, "\nErrors (connect, write, disconnects, error events): %d\n\n", r.Errors)
	for _, v := range r.Verdicts {
		fmt.Fprintf(w, "- %s\n", v)
	}
	fmt.Fprintf(w, "\n**%s**\n", map[bool]string{true: "PASS", false: "FAIL"}[r.Pass])
}
