package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Headline targets (issue 15's): sessions per core and CPU per frame
// against the bare server, the send hop and end of speech → first audio.
const (
	perCoreTarget  = 0.8 // gateway sessions per core ≥ this × the bare server's
	cpuFrameTarget = 1.2 // gateway CPU per frame ≤ this × the bare server's
	headlineLoad   = 1000
)

// headlineRun is the run the per-load figures come from: 1,000 sessions,
// or the nearest load run.
func (rep *Report) headlineRun() *Result {
	var best *Result
	for _, r := range rep.Runs {
		if best == nil || abs(r.Sessions-headlineLoad) < abs(best.Sessions-headlineLoad) {
			best = r
		}
	}
	return best
}

func abs(n int) int { return max(n, -n) }

// cpuPerFrame is a side's CPU time per frame handled, µs.
func cpuPerFrame(s *Side) float64 {
	if s == nil || s.HandledPerSec == 0 {
		return 0
	}
	return s.CPUCores * 1e6 / s.HandledPerSec
}

// headlineRow is one line of the headline table.
type headlineRow struct {
	label, gateway, bare, ratio string
	verdict                     *Verdict
}

// headline computes the headline table's rows and verdicts.
func (rep *Report) headline() []headlineRow {
	verdict := func(key, target string, measured bool, pass bool, shown string) *Verdict {
		v := &Verdict{key: key, short: target, Target: target, Verdict: "—"}
		if measured {
			v.Verdict, v.Measured = map[bool]string{true: "PASS", false: "MISS"}[pass], shown
		}
		return v
	}
	var rows []headlineRow
	c := rep.Capacity
	lat := "20"
	if c != nil {
		lat = fmt.Sprintf("%.0f", c.LatencyMS)
	}
	capRow := headlineRow{label: fmt.Sprintf("**Sessions per core** (most sessions with 0 dropped frames and latency added beyond the VAD's wait p99 ≤ %s ms, "+
		"bare: echo round trip; bisected; server CPUs %s)",
		lat, orAll(rep.ServerCPUs)), gateway: "– (-sessions-per-core)", bare: "–", ratio: "–"}
	measured := c != nil && c.Gateway != nil && c.Baseline != nil
	if c != nil && c.Gateway != nil {
		capRow.gateway = c.Gateway.String()
	}
	if c != nil && c.Baseline != nil {
		capRow.bare = c.Baseline.String()
	}
	if measured {
		capRow.ratio = fmt.Sprintf("%.2f×", c.Ratio())
	}
	// A search that stopped short of a failing load (Bound other than
	// "bisected") gives a lower bound only: the ratio decides the target
	// only where the bound points the same way.
	if measured {
		gExact, bExact := c.Gateway.Bound == "bisected", c.Baseline.Bound == "bisected"
		pass := c.Ratio() >= perCoreTarget
		switch {
		case gExact && bExact:
		case pass && bExact: // the gateway holds at least this many
		case !pass && gExact: // the bare server holds at least this many
		default:
			measured = false
			capRow.ratio += " (bounds only)"
		}
	}
	capRow.verdict = verdict("per_core", fmt.Sprintf("≥ %.1f×", perCoreTarget), measured, c.Ratio() >= perCoreTarget, capRow.ratio)
	rows = append(rows, capRow)

	r := rep.headlineRun()
	if r == nil {
		return rows
	}
	at := fmt.Sprintf("%d sessions", r.Sessions)
	g := r.Gateway
	cpu := headlineRow{label: "**CPU µs per frame handled**, " + at, gateway: fmt.Sprintf("%.1f", cpuPerFrame(&g.Side)), bare: "–", ratio: "–"}
	cpuRatio := 0.0
	if r.Baseline != nil && cpuPerFrame(r.Baseline) > 0 {
		cpu.bare = fmt.Sprintf("%.1f", cpuPerFrame(r.Baseline))
		cpuRatio = cpuPerFrame(&g.Side) / cpuPerFrame(r.Baseline)
		cpu.ratio = fmt.Sprintf("%.2f×", cpuRatio)
	}
	cpu.verdict = verdict("cpu_frame", fmt.Sprintf("≤ %.1f×", cpuFrameTarget), cpuRatio > 0, cpuRatio <= cpuFrameTarget, cpu.ratio)
	rows = append(rows, cpu)

	hop := g.Hops["send"]
	send := headlineRow{label: "**Send hop** (TTS first audio → first audio frame written) p50 / p99, " + at,
		gateway: fmt.Sprintf("%.2f / %.2f ms", hop.P50, hop.P99), bare: "–", ratio: ""}
	send.verdict = verdict("send_hop", fmt.Sprintf("p99 ≤ %.0f ms", hopTarget), hop.N > 0, hop.P99 <= hopTarget, fmt.Sprintf("%.2f ms", hop.P99))
	rows = append(rows, send)

	limit := float64(r.Config.Silence+r.Config.providers())/float64(time.Millisecond) + e2eMarginMS
	e2e := headlineRow{label: "**End of speech → first audio byte** p50 / p99 (bare: an echoed frame's round trip), " + at,
		gateway: fmt.Sprintf("%.1f / %.1f ms", g.E2E.P50, g.E2E.P99), bare: "–", ratio: ""}
	if r.Baseline != nil && r.Baseline.Echo.N > 0 {
		e2e.bare = fmt.Sprintf("%.2f / %.2f ms", r.Baseline.Echo.P50, r.Baseline.Echo.P99)
	}
	e2e.verdict = verdict("e2e_p99", fmt.Sprintf("p99 ≤ %.0f ms (VAD silence + providers + %.0f)", limit, e2eMarginMS), g.E2E.N > 0,
		g.E2E.P99 <= limit, fmt.Sprintf("%.1f ms", g.E2E.P99))
	rows = append(rows, e2e)

	lateness := func(s *Side) string {
		if s == nil {
			return "–"
		}
		out := fmt.Sprintf("%.2f / %.2f ms, %d late, %d skipped", s.SendLag.P50, s.SendLag.P99, s.LateFrames, s.SkippedFrames)
		if s.clientOverloaded() {
			out += " †"
		}
		return out
	}
	rows = append(rows, headlineRow{label: "Client's own lateness: send lag p50 / p99, frames ≥ 20 ms late, skipped (client CPUs " +
		orAll(rep.ClientCPUs) + ")", gateway: lateness(&g.Side), bare: lateness(r.Baseline)})
	rows = append(rows, headlineRow{label: "Server CPU cores / client CPU cores, " + at,
		gateway: fmt.Sprintf("%.2f / %.2f", g.CPUCores, g.ClientCores), bare: coresOf(r.Baseline)})
	return rows
}

func coresOf(s *Side) string {
	if s == nil {
		return "–"
	}
	return fmt.Sprintf("%.2f / %.2f", s.CPUCores, s.ClientCores)
}

func orAll(cpus string) string {
	if cpus == "" {
		return "not pinned"
	}
	return cpus
}

// String is a search result as the headline shows it.
func (c *Capacity) String() string {
	s := fmt.Sprintf("%.0f", c.PerCore)
	if c.Cores != 1 {
		s = fmt.Sprintf("%.0f (%d on %d CPUs)", c.PerCore, c.Sessions, c.Cores)
	}
	switch c.Bound {
	case "max":
		s = "≥ " + s + " (-capacity-max)"
	case "runs":
		s = "≥ " + s + " (-capacity-runs)"
	case "client":
		s = "≥ " + s + " (client-bound)"
	}
	return s
}

// writeHeadline prints the headline table: the targets side by
// side, gateway against the bare server, from one invocation.
func (rep *Report) writeHeadline(w io.Writer) {
	rows := rep.headline()
	rep.Headline = rep.Headline[:0]
	fmt.Fprintf(w, "| Headline | Gateway | Bare server | Ratio | Target | Verdict |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		target, verdict := "", ""
		if v := r.verdict; v != nil {
			target, verdict = v.short, v.Verdict
			if verdict != "—" {
				verdict = "**" + verdict + "**"
			}
			rep.Headline = append(rep.Headline, v)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.label, r.gateway, r.bare, r.ratio, target, verdict)
	}
	if c := rep.Capacity; c != nil {
		for _, side := range []*Capacity{c.Gateway, c.Baseline} {
			if side == nil {
				continue
			}
			var probes []string
			for _, p := range side.Probes {
				mark := "✓"
				if !p.Pass {
					mark = "✗ " + p.Why
				}
				probes = append(probes, fmt.Sprintf("%d %s (p99 %.1f ms, %.2f cores)", p.Sessions, mark, p.AddedP99, p.CPUCores))
			}
			fmt.Fprintf(w, "\nSearch, %s: %s.\n", side.Server, strings.Join(probes, "; "))
		}
	}
	fmt.Fprintln(w)
}
