#!/usr/bin/env bash
# bench.sh — voicegate's benchmarks: the Go micro-benchmarks of the per-frame
# path, then a load run of the real gateway binary against a bare
# coder/websocket baseline (cmd/voicegate-load). Prints markdown to stdout;
# docs/benchmarks.md explains the method and the figures.
#
#   scripts/bench.sh                 # full: sessions per core (bisected, gateway and bare) and
#                                    # 1,000 × 20 s pinned; 2,000 × 60 s on every CPU; nginx 500 × 20 s
#                                    # (~20 min)
#   BENCH_QUICK=1 scripts/bench.sh   # smoke: sessions-per-core search capped at 100, 200 × 10 s,
#                                    # nginx 100 × 5 s, -check (< 4 min)
#
# On a machine with 2 or more CPUs the gateway and the bare server run pinned
# to CPU 0 and the load client to the others (voicegate-load -server-cpus,
# -client-cpus), so the client does not compete with the server measured.
#
# Environment:
#   BENCH_QUICK=1       small, fast run; the load tool's -check makes errors or
#                       no completed turns fail the script (performance targets
#                       are reported, never asserted)
#   BENCH_MICRO=0       skip the Go micro-benchmarks
#   BENCH_LOAD=0        skip the load run
#   BENCH_NGINX=0       skip the nginx phase: one gateway, measured direct and
#                       through nginx (deploy/nginx/voicegate.conf rendered for
#                       loopback, plain HTTP: TLS is not part of the figure);
#                       full 500 × 20 s, quick 100 × 5 s
#   BENCH_NGINX_SESSIONS, BENCH_NGINX_DURATION   override that phase's one run
#   BENCH_NGINX_PORTS   its gateway, admin and nginx ports (default 18480,18481,18482)
#   BENCH_BENCHTIME     go test -benchtime (default 1s; quick: 200x)
#   BENCH_SESSIONS, BENCH_DURATION   override the load runs (comma lists)
#   BENCH_OUT           directory for bench.json, profiles and logs (default: bin/bench)
#   BENCH_QUIET_WAIT    full run: wait up to this long for an idle machine before each phase (default 3m)
#   BENCH_ARGS          extra flags for voicegate-load
#   BENCH_SERVER_CPUS, BENCH_CLIENT_CPUS   the load phase's pinning (default 0 and 1-(nproc-1);
#                       "" for both: no pinning)
#   BENCH_PER_CORE=0    skip the sessions-per-core search
#   BENCH_SCALE=0       full run: skip the 2,000 × 60 s run on every CPU (unpinned: one core
#                       cannot carry it); BENCH_SCALE_SESSIONS, BENCH_SCALE_DURATION change it
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
	per_core_args=(-sessions-per-core -capacity-start 50 -capacity-max 100 -capacity-duration 3s -capacity-runs 3)
else
	benchtime=${BENCH_BENCHTIME:-1s}
	sessions=${BENCH_SESSIONS:-1000}
	duration=${BENCH_DURATION:-20s}
	load_args=(-quiet-wait "${BENCH_QUIET_WAIT:-3m}" -cpuprofile "$out/cpu.pprof" -heapprofile "$out/heap.pprof")
	per_core_args=(-sessions-per-core -capacity-start 250 -capacity-max 6000 -capacity-duration 10s)
fi
[[ ${BENCH_PER_CORE:-1} == 0 ]] && per_core_args=()
ncpu=$(nproc)
pin_args=()
if [[ $ncpu -ge 2 ]]; then
	rest=1-$((ncpu - 1))
	[[ $ncpu == 2 ]] && rest=1
	server_cpus=${BENCH_SERVER_CPUS-0} client_cpus=${BENCH_CLIENT_CPUS-$rest}
else
	server_cpus=${BENCH_SERVER_CPUS-} client_cpus=${BENCH_CLIENT_CPUS-}
fi
[[ -n $server_cpus ]] && pin_args+=(-server-cpus "$server_cpus")
[[ -n $client_cpus ]] && pin_args+=(-client-cpus "$client_cpus")

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
		-dir "$out/logs" -json "$out/bench.json" "${load_args[@]}" "${pin_args[@]}" "${per_core_args[@]}" ${BENCH_ARGS:-}; then
		status=1
	fi
	if [[ $quick != 1 && ${BENCH_SCALE:-1} != 0 ]]; then
		echo
		echo "### Scale: ${BENCH_SCALE_SESSIONS:-2000} sessions × ${BENCH_SCALE_DURATION:-60s} on every CPU (not pinned)"
		echo
		# shellcheck disable=SC2086
		if ! "$bin/voicegate-load" -sessions "${BENCH_SCALE_SESSIONS:-2000}" -duration "${BENCH_SCALE_DURATION:-60s}" \
			-dir "$out/logs" -json "$out/bench-scale.json" -quiet-wait "${BENCH_QUIET_WAIT:-3m}" ${BENCH_ARGS:-}; then
			status=1
		fi
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
if [[ ${BENCH_NGINX:-1} != 0 ]]; then
	ng_check=()
	if [[ $quick == 1 ]]; then ng_sessions=100 ng_duration=5s ng_check=(-check); else ng_sessions=500 ng_duration=20s; fi
	ng_sessions=${BENCH_NGINX_SESSIONS:-$ng_sessions} ng_duration=${BENCH_NGINX_DURATION:-$ng_duration}
	IFS=, read -r gw_port admin_port ng_port <<<"${BENCH_NGINX_PORTS:-18480,18481,18482}"
	echo "## nginx in front: one gateway, direct vs through nginx ($ng_sessions sessions × $ng_duration)"
	echo
	go build -o "$bin/voicegate-load" ./cmd/voicegate-load
	ng="$out/nginx"
	rm -rf "$ng"
	mkdir -p "$ng/logs"
	ng_dir=$(cd "$ng" && pwd)
	gw_pid="" ng_master=""
	ng_stop() {
		[[ -n $ng_master ]] && kill -TERM "$ng_master" 2>/dev/null && wait "$ng_master" 2>/dev/null
		[[ -n $gw_pid ]] && kill -TERM "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null
		ng_master="" gw_pid=""
	}
	trap ng_stop EXIT
	# The gateway with the load tool's zero-cost providers (its -url mode
	# assumes the same config: VAD silence 300 ms, providers 0 ms).
	cat >"$ng/gateway.yaml" <<-EOF
		server: {max_sessions: $((ng_sessions * 2)), max_sessions_per_ip: $((ng_sessions * 2)), session_rate: 100000, session_burst: $((ng_sessions * 2))}
		log: {level: warn}
		vad: {silence: 300ms}
		cache: {tts: {enabled: false}}
		providers:
		  asr: [{name: scripted, transcripts: ["hello there"], latency: 0s}]
		  llm: [{name: echo, first_token: 0s}]
		  tts: [{name: tone, rate: 16000, latency: 0s}]
	EOF
	"$bin/voicegate-load" gateway -config "$ng/gateway.yaml" -addr "127.0.0.1:$gw_port" \
		-admin-addr "127.0.0.1:$admin_port" >"$ng/gateway.log" 2>&1 &
	gw_pid=$!
	# deploy/nginx/voicegate.conf for loopback: its one upstream is this
	# gateway; the TLS server listens on plain HTTP; the redirect server on a
	# unix socket nobody uses.
	sed -e "0,/^\(\s*\)server 10\.0\.0\.[0-9]*:8080/s//\1server 127.0.0.1:$gw_port/" \
		-e '/^\s*server 10\.0\.0\.[0-9]*:8080/d' -e '/^\s*listen \[::\]/d' -e '/^\s*ssl_/d' \
		-e "s|^\(\s*\)listen 80;|\1listen unix:$ng_dir/redirect.sock;|" \
		-e "s|^\(\s*\)listen 443 ssl;|\1listen 127.0.0.1:$ng_port;|" \
		deploy/nginx/voicegate.conf >"$ng/voicegate.conf"
	if [[ $(grep -c "127.0.0.1:$gw_port\|127.0.0.1:$ng_port" "$ng/voicegate.conf") != 2 ]] || grep -q 'ssl\|10\.0\.0\.' "$ng/voicegate.conf"; then
		echo "deploy/nginx/voicegate.conf no longer renders for loopback; see $ng/voicegate.conf" >&2
		exit 1
	fi
	ng_user=""
	[[ $(id -u) == 0 ]] && ng_user="user root root;"
	cat >"$ng/nginx.conf" <<-EOF
		$ng_user
		worker_processes 1;
		worker_rlimit_nofile $((ng_sessions * 4 + 64));
		daemon off;
		pid $ng_dir/nginx.pid;
		error_log $ng_dir/error.log warn;
		events { worker_connections $((ng_sessions * 2 + 64)); }
		http {
		    access_log $ng_dir/access.log;
		    client_body_temp_path $ng_dir/client_body;
		    proxy_temp_path $ng_dir/proxy;
		    fastcgi_temp_path $ng_dir/fastcgi;
		    uwsgi_temp_path $ng_dir/uwsgi;
		    scgi_temp_path $ng_dir/scgi;
		    include $ng_dir/voicegate.conf;
		}
	EOF
	nginx -t -q -p "$ng_dir" -e "$ng_dir/error.log" -c "$ng_dir/nginx.conf"
	nginx -p "$ng_dir" -e "$ng_dir/error.log" -c "$ng_dir/nginx.conf" >"$ng/nginx.out" 2>&1 &
	ng_master=$!
	for _ in $(seq 300); do
		curl -fs -o /dev/null "http://127.0.0.1:$ng_port/readyz" && break
		sleep 0.1
	done
	curl -fs -o /dev/null "http://127.0.0.1:$ng_port/readyz" || { echo "gateway or nginx not ready; see $ng" >&2; exit 1; }

	# CPU seconds of nginx's workers (utime + stime in /proc/<pid>/stat).
	ng_cpu() {
		local t=0 p
		for p in $(cat "/proc/$ng_master/task/$ng_master/children"); do
			t=$((t + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
		done
		echo "$t"
	}
	ng_run() { # name url
		"$bin/voicegate-load" -url "$2" -pid "$gw_pid" -admin-url "http://127.0.0.1:$admin_port" -baseline=false \
			-sessions "$ng_sessions" -duration "$ng_duration" -dir "$ng/logs" -json "$ng/$1.json" -q "${ng_check[@]}" >"$ng/$1.md" || status=1
	}
	ng_run direct "ws://127.0.0.1:$gw_port/ws"
	c0=$(ng_cpu)
	ng_run nginx "ws://127.0.0.1:$ng_port/ws"
	c1=$(ng_cpu)
	ng_stop
	trap - EXIT
	hz=$(getconf CLK_TCK)
	jq -rn --slurpfile d "$ng/direct.json" --slurpfile n "$ng/nginx.json" --argjson cpu "$(( c1 - c0 ))" --argjson hz "$hz" '
		($d[0].runs[0]) as $D | ($n[0].runs[0]) as $N |
		def e(g): (g.connect_errors + g.write_errors + g.disconnects + g.error_events);
		def f(x): (x * 10 | round) / 10;
		"| Sessions | Frames/s handled: direct / nginx | End of speech → first audio p50 / p99, direct | Through nginx | Added p99 | Outside the gateway p99 (e2e − trace): direct / nginx | Gateway cores: direct / nginx | nginx CPU, µs per frame | Client frames skipped: direct / nginx | Errors: direct / nginx |",
		"|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
		"| \($N.sessions) | \($D.gateway.frames_handled_per_s | round) / \($N.gateway.frames_handled_per_s | round) | \(f($D.gateway.end_of_speech_to_first_audio.p50_ms)) / \(f($D.gateway.end_of_speech_to_first_audio.p99_ms)) ms | \(f($N.gateway.end_of_speech_to_first_audio.p50_ms)) / \(f($N.gateway.end_of_speech_to_first_audio.p99_ms)) ms | \(f($N.gateway.end_of_speech_to_first_audio.p99_ms - $D.gateway.end_of_speech_to_first_audio.p99_ms)) ms | \(f($D.gateway.e2e_minus_trace.p99_ms)) / \(f($N.gateway.e2e_minus_trace.p99_ms)) ms | \($D.gateway.cpu_cores * 100 | round / 100) / \($N.gateway.cpu_cores * 100 | round / 100) | \(if $N.gateway.frames_sent > 0 then f($cpu / $hz * 1e6 / $N.gateway.frames_sent) else "–" end) | \($D.gateway.skipped_frames) / \($N.gateway.skipped_frames) | \(e($D.gateway)) / \(e($N.gateway)) |"'
	echo
	echo "nginx $(nginx -v 2>&1 | sed 's|.*/||'), one worker, plain HTTP on loopback, deploy/nginx/voicegate.conf otherwise unchanged; the load tool's full reports: $ng/direct.md, $ng/nginx.md. Frames skipped mean the client fell behind real time (the machine was short of CPU): that run's latencies include the client's own delay."
	echo
fi
exit $status
