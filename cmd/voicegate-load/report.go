package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine says where the figures were measured.
type Machine struct {
	CPUs   int    `json:"cpus"`
	Model  string `json:"cpu_model"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Model: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// Verdict is a target's outcome over the runs that measured it.
type Verdict struct {
	key      string
	short    string
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Verdict  string `json:"verdict"` // PASS, MISS, or "—" when nothing measured it
	// BelowScale is set when no run reached the target's scale and the
	// verdict is from smaller runs.
	BelowScale bool `json:"below_scale,omitempty"`
}

// Report is everything an invocation measured; -json writes it.
type Report struct {
	Machine    Machine         `json:"machine"`
	When       time.Time       `json:"when"`
	ServerCPUs string          `json:"server_cpus,omitempty"` // -server-cpus: where the servers ran
	ClientCPUs string          `json:"client_cpus,omitempty"` // -client-cpus: where this client ran
	Capacity   *CapacityReport `json:"sessions_per_core,omitempty"`
	Runs       []*Result       `json:"runs"`
	Headline   []*Verdict      `json:"headline"`
	Targets    []*Verdict      `json:"targets"`
}

// goal is one of the performance targets: the runs at its scale, and the test.
type goal struct {
	key    string // the table row it belongs to
	short  string // its target as the table shows it
	target string
	scale  func(*Result) bool         // runs at the target's scale
	check  func(*Result) (bool, bool) // pass, and whether the run measured it
	show   func(*Result) string       // what was measured
}

const hopTarget = 2.0 // ms, p99 per stage hop

// e2eMarginMS is what the gateway may add, at p99, to end of speech →
// first audio byte beyond VAD silence and the providers: the VAD's 10 ms
// window and 10 ms for everything else.
const e2eMarginMS = 20.0

var pipelineHops = []string{"asr", "llm", "chunker", "tts", "send"}

func goals(cfg latencies) []goal {
	// The latency and drop targets are set for 1,000 sessions; a larger run
	// is shown beside them but judged only on the targets set for its scale.
	at1000 := func(r *Result) bool { return r.Sessions >= 1000 && r.Sessions < 2000 }
	e2eLimit := float64(cfg.Silence+cfg.providers())/float64(time.Millisecond) + e2eMarginMS
	gs := []goal{{
		key: "e2e", short: fmt.Sprintf("p99 ≤ %.0f ms @ 1k", e2eLimit),
		target: fmt.Sprintf("1,000 sessions: end of speech → first audio byte p99 ≤ VAD silence + providers + %.0f ms (%.0f ms)", e2eMarginMS, e2eLimit),
		scale:  at1000,
		check:  func(r *Result) (bool, bool) { return r.Gateway.E2E.P99 <= e2eLimit, r.Gateway.E2E.N > 0 },
		show:   func(r *Result) string { return fmt.Sprintf("%.1f ms", r.Gateway.E2E.P99) },
	}}
	for _, h := range pipelineHops {
		gs = append(gs, goal{
			key: "hop:" + h, short: fmt.Sprintf("p99 ≤ %.0f ms @ 1k", hopTarget),
			target: fmt.Sprintf("1,000 sessions: gateway-added p99 ≤ %.0f ms, hop %s", hopTarget, h),
			scale:  at1000,
			check: func(r *Result) (bool, bool) {
				d, ok := r.Gateway.Hops[h]
				return d.P99 <= hopTarget, ok && d.N > 0
			},
			show: func(r *Result) string { return fmt.Sprintf("%.2f ms", r.Gateway.Hops[h].P99) },
		})
	}
	gs = append(gs,
		goal{
			key: "dropped", short: "0 @ 1k",
			target: "1,000 sessions: 0 dropped frames",
			scale:  at1000,
			check:  func(r *Result) (bool, bool) { return r.Gateway.DroppedFrames == 0, true },
			show:   func(r *Result) string { return fmt.Sprintf("%.0f", r.Gateway.DroppedFrames) },
		},
		goal{
			key: "errors", short: "0 @ 2k × 60 s",
			target: "≥ 2,000 sessions for 60 s without errors",
			scale:  func(r *Result) bool { return r.Sessions >= 2000 && r.Duration >= 60 },
			check: func(r *Result) (bool, bool) {
				g := r.Gateway
				return g.errorsTotal() == 0 && g.OpenAtEnd == r.Sessions && g.Replies > 0, true
			},
			show: func(r *Result) string {
				return fmt.Sprintf("%d × %.0fs: %d errors, %d/%d open", r.Sessions, r.Duration, r.Gateway.errorsTotal(), r.Gateway.OpenAtEnd, r.Sessions)
			},
		},
		goal{
			key: "throughput", short: "ratio ≥ 0.8 @ 2k",
			target: "≥ 0.8 × baseline throughput (frames/s handled)",
			scale:  func(r *Result) bool { return r.Sessions >= 2000 },
			check:  func(r *Result) (bool, bool) { return r.ThroughputRatio() >= 0.8, r.Baseline != nil },
			show:   func(r *Result) string { return fmt.Sprintf("%d: %.3f", r.Sessions, r.ThroughputRatio()) },
		},
		goal{
			key: "heap", short: "heap ≤ 64 KiB",
			target: "≤ 64 KiB heap per idle session",
			scale:  func(r *Result) bool { return r.Sessions >= 1000 },
			check:  func(r *Result) (bool, bool) { return r.Gateway.HeapPerSession <= 64<<10, r.Gateway.Connected > 0 },
			show:   func(r *Result) string { return fmt.Sprintf("%.1f KiB", r.Gateway.HeapPerSession/1024) },
		},
		goal{
			key: "allocs", short: "0 per frame (< 0.01)",
			target: "0 allocs per audio frame in steady state (< 0.01 measured)",
			scale:  func(r *Result) bool { return r.Sessions >= 1000 },
			check:  func(r *Result) (bool, bool) { return r.Gateway.AllocsPerFrame < 0.01, r.Gateway.Connected > 0 },
			show:   func(r *Result) string { return fmt.Sprintf("%.3f", r.Gateway.AllocsPerFrame) },
		},
	)
	return gs
}

// judge evaluates each goal on the runs at its scale, or, if none reached
// it, on all runs (marked BelowScale).
func judge(runs []*Result, cfg latencies) []*Verdict {
	var out []*Verdict
	for _, g := range goals(cfg) {
		v := &Verdict{key: g.key, short: g.short, Target: g.target, Verdict: "—"}
		sel := make([]*Result, 0, len(runs))
		for _, r := range runs {
			if g.scale(r) {
				sel = append(sel, r)
			}
		}
		if len(sel) == 0 {
			sel, v.BelowScale = runs, true
		}
		var shown []string
		pass, any := true, false
		for _, r := range sel {
			ok, measured := g.check(r)
			if !measured {
				continue
			}
			any = true
			pass = pass && ok
			shown = append(shown, g.show(r))
		}
		if any {
			v.Verdict = map[bool]string{true: "PASS", false: "MISS"}[pass]
			v.Measured = strings.Join(shown, "; ")
		}
		out = append(out, v)
	}
	return out
}

func fmtDist(d Dist) string {
	if d.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f / %.1f / %.1f / %.1f", d.P50, d.P95, d.P99, d.Max)
}

func fmtDist2(d Dist) string {
	if d.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f / %.2f / %.2f / %.2f", d.P50, d.P95, d.P99, d.Max)
}

// writeMarkdown prints the report as one table: a column per run, and
// beside the rows that have a performance target, the target and verdict.
func (rep *Report) writeMarkdown(w io.Writer) {
	m := rep.Machine
	fmt.Fprintf(w, "voicegate load: %d CPUs (%s), Linux %s, %s; %s\n\n", m.CPUs, m.Model, m.Kernel, m.Go, rep.When.Format(time.RFC3339))
	rep.writeHeadline(w)
	if len(rep.Runs) == 0 {
		return
	}
	cfg := rep.Runs[0].Config
	fmt.Fprintf(w, "Gateway with scripted ASR (%v), echo LLM (first token %v), tone TTS (%v), VAD silence %v; "+
		"baseline: bare coder/websocket server, same connections and frames. Latencies: p50 / p95 / p99 / max, ms.\n\n",
		cfg.ASR, cfg.LLMFirstToken, cfg.TTS, cfg.Silence)

	verdicts := make(map[string]*Verdict, len(rep.Targets))
	for _, v := range rep.Targets {
		verdicts[v.key] = v
	}
	cols := make([]string, len(rep.Runs))
	for i, r := range rep.Runs {
		cols[i] = fmt.Sprintf("%d × %.0fs", r.Sessions, r.Duration)
	}
	fmt.Fprintf(w, "| Measure | %s | Target | Verdict |\n|---|%s---|---|\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
	below, overloaded := false, false
	row := func(key, label string, f func(*Result) string) {
		vals := make([]string, len(rep.Runs))
		for i, r := range rep.Runs {
			vals[i] = f(r)
		}
		target, verdict := "", ""
		if v := verdicts[key]; v != nil {
			target, verdict = v.short, "**"+v.Verdict+"**"
			if v.Verdict == "—" {
				verdict = "—"
			}
			if v.BelowScale && v.Verdict != "—" {
				verdict += "\\*"
				below = true
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", label, strings.Join(vals, " | "), target, verdict)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	row("", "Sessions opened / open at end", func(r *Result) string {
		return fmt.Sprintf("%d / %d", r.Gateway.Connected, r.Gateway.OpenAtEnd)
	})
	row("errors", "Errors: connect / error events / disconnects / write", func(r *Result) string {
		g := r.Gateway
		s := fmt.Sprintf("%d / %d / %d / %d", g.ConnectErrors, g.ErrorEvents, g.Disconnects, g.WriteErrors)
		if g.Crashed != "" {
			s += " / gateway died"
		}
		return s
	})
	row("", "Utterances / replies with audio / cancelled", func(r *Result) string {
		g := r.Gateway
		return fmt.Sprintf("%d / %d / %d", g.Utterances, g.Replies, g.Cancelled)
	})
	row("", "Server messages per reply: audio (bytes each) / text", func(r *Result) string {
		g := r.Gateway
		if g.Replies == 0 || g.AudioMsgs == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f (%d) / %.1f", float64(g.AudioMsgs)/float64(g.Replies), g.AudioBytes/g.AudioMsgs,
			float64(g.TextMsgs)/float64(g.Replies))
	})
	row("e2e", "**End of speech → first audio byte** (client clock)", func(r *Result) string { return fmtDist(r.Gateway.E2E) })
	row("", "Gateway-added: that − VAD silence − providers", func(r *Result) string { return fmtDist(r.Gateway.Added) })
	row("", "Beyond the VAD: that − trace endpoint_ms − providers (what -sessions-per-core limits)", func(r *Result) string { return fmtDist(r.Gateway.BeyondVAD) })
	for _, st := range stageNames {
		row("", "Trace "+st+"_ms", func(r *Result) string { return fmtDist(r.Gateway.Stages[st]) })
	}
	row("", "Client e2e − trace first_audio_sent_ms (VAD hangover, queueing before the VAD, network, client)",
		func(r *Result) string { return fmtDist(r.Gateway.Untraced) })
	hopLabel := map[string]string{
		"vad":     fmt.Sprintf("Hop vad: endpoint − silence (%v)", cfg.Silence),
		"asr":     fmt.Sprintf("**Hop asr**: asr_final − endpoint − %.0f ms", ms(cfg.ASR)),
		"llm":     fmt.Sprintf("**Hop llm**: llm_first_token − asr_final − %.0f ms", ms(cfg.LLMFirstToken)),
		"chunker": "**Hop chunker**: first_sentence − llm_first_token",
		"tts":     fmt.Sprintf("**Hop tts**: tts_first_audio − first_sentence − %.0f ms", ms(cfg.TTS)),
		"send":    "**Hop send**: first_audio_sent − tts_first_audio",
	}
	for _, h := range hopNames {
		row("hop:"+h, hopLabel[h], func(r *Result) string { return fmtDist2(r.Gateway.Hops[h]) })
	}
	row("dropped", "Frames dropped by gateway / slow-consumer closes", func(r *Result) string {
		return fmt.Sprintf("%.0f / %.0f", r.Gateway.DroppedFrames, r.Gateway.SlowConsumers)
	})
	row("", "Client send lag, gateway run", func(r *Result) string { return fmtDist2(r.Gateway.SendLag) })
	row("", "Client frames ≥ 20 ms late / skipped, gateway run", func(r *Result) string {
		s := fmt.Sprintf("%d / %d of %d", r.Gateway.LateFrames, r.Gateway.SkippedFrames, r.Gateway.SendLag.N)
		if r.Gateway.clientOverloaded() {
			s += " †"
			overloaded = true
		}
		return s
	})
	row("", "Frames/s offered (sessions × 50)", func(r *Result) string { return fmt.Sprintf("%d", r.Sessions*50) })
	row("throughput", "Frames/s handled (received − dropped): gateway / baseline (ratio)", func(r *Result) string {
		if r.Baseline == nil {
			return fmt.Sprintf("%.0f / –", r.Gateway.HandledPerSec)
		}
		return fmt.Sprintf("%.0f / %.0f (%.3f)", r.Gateway.HandledPerSec, r.Baseline.HandledPerSec, r.ThroughputRatio())
	})
	row("", "CPU cores: gateway / baseline (ratio)", func(r *Result) string {
		if r.Baseline == nil {
			return fmt.Sprintf("%.2f / –", r.Gateway.CPUCores)
		}
		return fmt.Sprintf("%.2f / %.2f (%.1f×)", r.Gateway.CPUCores, r.Baseline.CPUCores, r.Gateway.CPUCores/max(r.Baseline.CPUCores, 1e-9))
	})
	row("", "CPU µs per frame handled: gateway / baseline", func(r *Result) string {
		per := func(s *Side) string {
			if s == nil || s.HandledPerSec == 0 {
				return "–"
			}
			return fmt.Sprintf("%.1f", s.CPUCores*1e6/s.HandledPerSec)
		}
		return per(&r.Gateway.Side) + " / " + per(r.Baseline)
	})
	row("", "Client CPU cores: gateway run / baseline run", func(r *Result) string {
		if r.Baseline == nil {
			return fmt.Sprintf("%.2f / –", r.Gateway.ClientCores)
		}
		return fmt.Sprintf("%.2f / %.2f", r.Gateway.ClientCores, r.Baseline.ClientCores)
	})
	row("", "Other load on the machine (cores): gateway run / baseline run", func(r *Result) string {
		if r.Baseline == nil {
			return fmt.Sprintf("%.2f / –", r.Gateway.OtherCores)
		}
		return fmt.Sprintf("%.2f / %.2f", r.Gateway.OtherCores, r.Baseline.OtherCores)
	})
	row("", "Client send lag, baseline run (frames skipped)", func(r *Result) string {
		if r.Baseline == nil {
			return "–"
		}
		return fmt.Sprintf("%s (%d)", fmtDist2(r.Baseline.SendLag), r.Baseline.SkippedFrames)
	})
	row("", "Baseline errors: connect / disconnects / write", func(r *Result) string {
		if r.Baseline == nil {
			return "–"
		}
		b := r.Baseline
		return fmt.Sprintf("%d / %d / %d", b.ConnectErrors, b.Disconnects, b.WriteErrors)
	})
	row("", "Gateway RSS peak (MiB)", func(r *Result) string { return fmt.Sprintf("%.0f", r.Gateway.RSSPeakMiB) })
	row("heap", "Per idle session: heap / stack / RSS (KiB)", func(r *Result) string {
		g := r.Gateway
		s := fmt.Sprintf("%.1f / %.1f / %.1f", g.HeapPerSession/1024, g.StackPerSess/1024, g.RSSPerSession/1024)
		if !g.HeapGCed {
			s += " (no forced GC: no pprof)"
		}
		return s
	})
	row("allocs", "Gateway allocs per frame (silence) / per turn", func(r *Result) string {
		return fmt.Sprintf("%.3f / %.0f", r.Gateway.AllocsPerFrame, r.Gateway.AllocsPerTurn)
	})
	if overloaded {
		fmt.Fprintf(w, "\n† The client could not keep real-time pace (send lag p99 > 20 ms, or frames skipped): the machine was "+
			"short of CPU, and the latency figures of that run include the client's own delay.\n")
	}
	if below {
		fmt.Fprintf(w, "\n\\* No run reached the target's scale (1,000 sessions; 2,000 × 60 s for errors and throughput): judged on the runs made.\n")
	}
	for _, r := range rep.Runs {
		for _, side := range []*Side{&r.Gateway.Side, r.Baseline} {
			if side == nil || len(side.Errors) == 0 && side.Crashed == "" {
				continue
			}
			fmt.Fprintf(w, "\nErrors (%d sessions):\n", r.Sessions)
			if side.Crashed != "" {
				fmt.Fprintf(w, "- %s\n", side.Crashed)
			}
			for _, k := range sortedKeys(side.Errors) {
				fmt.Fprintf(w, "- %d× %s\n", side.Errors[k], k)
			}
		}
	}
}

func (rep *Report) writeJSON(path string) error { return writeJSON(path, rep) }

// writeJSON writes v as indented JSON to path.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
