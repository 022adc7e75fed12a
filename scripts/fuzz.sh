#!/usr/bin/env bash
# fuzz.sh — runs every fuzz target of the module for FUZZTIME (default 5m)
# each, one after the other, then copies the corpus the fuzzer grew into the
# package's testdata/fuzz/<Target>, so that plain `go test` replays it.
# Prints one line per target with the executions and corpus size.
# FUZZ_PARALLEL sets the workers (default: one per core).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5m}
parallel=${FUZZ_PARALLEL:-$(nproc)} # fuzzing workers
targets=(
	"./gateway/protocol FuzzDecode"
	"./gateway/realtime FuzzDecode"
	"./audio/wav FuzzDecode"
	"./providers/llm/openai FuzzDeltaDecoder"
	"./providers/llm/openai FuzzCallDecoder"
	"./configs FuzzParse"
	"./audio/g711 FuzzCodec"
)
cache=$(go env GOCACHE)/fuzz/$(go list -m)
summary=()
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	log=$(mktemp)
	# A new input is minimised for at most 1 s: the default (60 s
	# each) leaves the fuzzer minimising instead of fuzzing.
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 1s -parallel "$parallel" "$pkg" >"$log" 2>&1 || true
	if grep -q 'Failing input written' "$log"; then
		cat "$log"
		exit 1
	fi
	# The fuzzer can report "context deadline exceeded" when its time runs
	# out in the middle of minimising an input: no failing input, no bug.
	if ! grep -q '^ok' "$log" && ! grep -q 'context deadline exceeded' "$log"; then
		cat "$log"
		exit 1
	fi
	execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
	dir=${pkg#./}/testdata/fuzz/$name
	mkdir -p "$dir"
	cp -n "$cache/${pkg#./}/$name"/* "$dir"/ 2>/dev/null || true
	summary+=("$pkg $name: $execs executions in $fuzztime, corpus $(ls "$dir" | wc -l) inputs")
	rm -f "$log"
done
printf '%s\n' "${summary[@]}"
