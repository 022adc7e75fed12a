#!/usr/bin/env bash
# bench.sh — voicegate's benchmarks: the Go micro-benchmarks of the per-frame
# path, then a load run of the real gateway binary against a bare
# coder/websocket baseline (cmd/voicegate-load). Prints markdown to stdout;
# docs/benchmarks.md explains the method and the figures.
#
#   scripts/bench.sh                 # full: 1,000 × 20 s and 2,000 × 60 s (~6 min)
#   BENCH_QUICK=1 scripts/bench.sh   # smoke: 200 × 10 s, -check (< 2 min)
#
# Environment:
#   BENCH_QUICK=1       small, fast run; the load tool's -check makes errors or
#                       no completed turns fail the script (performance targets
#                       are reported, never asserted)
#   BENCH_MICRO=0       skip the Go micro-benchmarks
#   BENCH_LOAD=0        skip the load run
#   BENCH_BENCHTIME     go test -benchtime (default 1s; quick: 200x)
#   BENCH_SESSIONS, BENCH_DURATION   override the load runs (comma lists)
#   BENCH_OUT           directory for bench.json, profiles and logs (default: bin/bench)
#   BENCH_QUIET_WAIT    full run: wait up to this long for an idle machine before each phase (default 3m)
#   BENCH_ARGS          extra flags for voicegate-load
set -euo pipefail

cd "$(dirname "$0")/.."
out=${BENCH_OUT:-bin/bench}
bin=${BIN_DIR:-bin}
mkdir -p "$out" "$bin"

quick=${BENCH_QUICK:-0}
if [[ $quick == 1 ]]; then
	benchtime=${BENCH_BENCHTIME:-200x}
	sessions=${BENCH_SESSIONS:-200}
	duration=${BENCH_DURATION:-10s}
	load_args=(-check -baseline-duration 5s -alloc-window 2s)
else
	benchtime=${BENCH_BENCHTIME:-1s}
	sessions=${BENCH_SESSIONS:-1000,2000}
	duration=${BENCH_DURATION:-20s,60s}
	load_args=(-quiet-wait "${BENCH_QUIET_WAIT:-3m}" -cpuprofile "$out/cpu.pprof" -heapprofile "$out/heap.pprof")
fi

cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)
echo "# voicegate benchmarks"
echo
echo "Machine: $(nproc) CPUs, ${cpu_model}; $(uname -sr); $(go version | awk '{print $3, $4}'); load average $(cut -d' ' -f1-3 /proc/loadavg) at start; $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo

status=0
if [[ ${BENCH_MICRO:-1} != 0 ]]; then
	echo "## Micro-benchmarks (go test -bench . -benchmem -benchtime=$benchtime)"
	echo
	raw="$out/micro.txt"
	# Packages still without benchmarks just print "no test files" or PASS.
	if ! go test -run '^$' -bench . -benchmem -benchtime="$benchtime" ./audio/... ./pipeline/... ./gateway/... >"$raw" 2>&1; then
		status=1
	fi
	awk '
		/^pkg: / { pkg = $2; sub("github.com/voicegate/voicegate/", "", pkg) }
		/^Benchmark/ && / ns\/op/ {
			if (!hdr) { print "| Package | Benchmark | ns/op | B/op | allocs/op | other |"; print "|---|---|---:|---:|---:|---|"; hdr = 1 }
			name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
			ns = b = a = ""; other = ""
			for (i = 3; i < NF; i += 2) {
				if ($(i+1) == "ns/op") ns = $i
				else if ($(i+1) == "B/op") b = $i
				else if ($(i+1) == "allocs/op") a = $i
				else other = other (other ? ", " : "") $i " " $(i+1)
			}
			printf "| %s | %s | %s | %s | %s | %s |\n", pkg, name, ns, b, a, other
		}
		/^(FAIL|--- FAIL|# )/ || /build failed|cannot find|panic:/ { fails = fails "\n    " $0 }
		END {
			if (!hdr) print "(no benchmarks found)"
			if (fails) print "\nFailures (see " FILENAME "):" fails
		}' "$raw"
	echo
fi

if [[ ${BENCH_LOAD:-1} != 0 ]]; then
	echo "## Load: gateway vs bare coder/websocket baseline (cmd/voicegate-load)"
	echo
	go build -o "$bin/voicegate" ./cmd/voicegate
	go build -o "$bin/voicegate-load" ./cmd/voicegate-load
	mkdir -p "$out/logs"
	# shellcheck disable=SC2086
	if ! "$bin/voicegate-load" -sessions "$sessions" -duration "$duration" \
		-dir "$out/logs" -json "$out/bench.json" "${load_args[@]}" ${BENCH_ARGS:-}; then
		status=1
	fi
	for p in "$out"/cpu.pprof*; do
		[[ -f $p ]] || continue
		echo
		echo "Gateway CPU profile, speaking phase ($p): go tool pprof -top"
		echo
		echo '```'
		go tool pprof -top -nodecount=25 "$bin/voicegate" "$p" 2>/dev/null | sed -n '1,35p'
		echo '```'
	done
fi
exit $status
