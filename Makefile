# voicegate — make run: build and start the offline gateway; make test: everything CI runs.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO ?= go
ADDR ?=
ARGS ?=

# Debian packages: what the server links and runs with (offline speech)...
RUN_DEBS := gcc pkg-config libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us flite flite1-dev espeak-ng libespeak-ng-dev espeak-ng-data zstd python3-onnx
# ...and what the tests drive: a real browser, a virtual sound card, speech tools,
# nginx in front of the gateway and systemd-analyze for deploy/, redis-server for the caches,
# jq for the bench script.
TEST_DEBS := $(RUN_DEBS) chromium sox portaudio19-dev libasound2-dev pulseaudio pulseaudio-utils libasound2-plugins libspeexdsp-dev nodejs nginx systemd redis-server jq

BINS := voicegate voicegate-mic voicegate-load

.PHONY: all run build build-all deps deps-test models test test-unit test-nocgo test-e2e test-interop test-cluster test-browser test-mic test-load lint bench bench-quick soak fuzz clean

all: build

deps:
	@scripts/deps.sh $(RUN_DEBS)

deps-test:
	@scripts/deps.sh $(TEST_DEBS)

## models: the offline neural models (Silero VAD, the Piper voice) into
## $VOICEGATE_MODELS (default ~/.cache/voicegate/models), checked by sha256.
models:
	@scripts/models.sh

# A plain build installs nothing: run and test install what they need first.
build:
	@mkdir -p bin
	$(GO) build -o bin/voicegate ./cmd/voicegate

build-all:
	@mkdir -p bin
	$(GO) build -o bin/ $(addprefix ./cmd/,$(BINS))

## run: install what is missing, build and start the gateway (offline default
## unless CONFIG=file.yaml); open the printed URL. ADDR=:8080 (beyond loopback)
## needs API keys (VOICEGATE_API_KEYS) or server.allow_unauthenticated: true.
run: deps models build
	./bin/voicegate $(if $(CONFIG),-config $(CONFIG)) $(if $(ADDR),-addr $(ADDR)) $(ARGS)

## test: what CI runs — lint, unit + integration tests with -race, no-cgo and Windows builds,
## the real-browser, real-audio, Realtime-client and load smoke tests.
test: deps-test models lint test-unit test-nocgo test-e2e test-interop test-cluster test-load
	@echo "make test: all passed"

test-unit:
	$(GO) test -race -count=1 -timeout 15m ./...

test-nocgo:
	CGO_ENABLED=0 $(GO) build ./...
	CGO_ENABLED=0 $(GO) test -count=1 -run 'TestStandInWithoutCgo' ./app/
	GOOS=windows CGO_ENABLED=0 $(GO) build ./...
	GOOS=darwin CGO_ENABLED=0 $(GO) build ./...

test-e2e:
	$(GO) test -tags e2e -count=1 -timeout 10m ./e2e/...

## test-interop: the OpenAI Realtime clients from npm (versions pinned in e2e/package.json)
## against /v1/realtime of the real binary; build tags e2e,interop (e2e/doc.go).
test-interop: deps-test e2e/node_modules/.package-lock.json
	$(GO) test -tags e2e,interop -count=1 -timeout 8m -run '^TestRealtime' ./e2e/...

## test-cluster: three gateways behind nginx sharing a redis-server, sessions
## resuming across nodes through SIGTERM, SIGKILL and a Redis outage; build
## tags e2e,cluster (e2e/cluster_test.go).
test-cluster: deps-test
	$(GO) test -tags e2e,cluster -count=1 -timeout 6m -run '^TestCluster' -v ./e2e/...

# npm ci only when the lock file is newer than the installed tree.
e2e/node_modules/.package-lock.json: e2e/package.json e2e/package-lock.json
	npm ci --prefix e2e --no-audit --no-fund
	@touch $@

test-browser: deps-test
	$(GO) test -tags e2e -count=1 -run Browser -v ./e2e/...

test-mic: deps-test
	$(GO) test -tags e2e -count=1 -run Mic -v ./e2e/...

## test-load: a short load smoke (200 sessions x 10 s); fails on
## errors or no completed turns, never on the performance figures (make bench measures those).
test-load: deps-test build-all
	bin/voicegate-load -sessions 200 -duration 10s -baseline=false -check -q

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e,interop,cluster ./e2e/...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags e2e,interop,cluster ./e2e/...

## bench: micro-benchmarks and a load run against a bare WebSocket baseline, as one table.
bench: deps-test build-all
	scripts/bench.sh

## soak: 300 sessions talking for SOAK_TIME (default 30m) against the gateway;
## RSS, goroutines and p99 latency sampled each minute must stay flat. Not in make test.
SOAK_TIME ?= 30m
soak: deps-test build-all
	@mkdir -p bin/soak
	bin/voicegate-load -sessions 300 -soak $(SOAK_TIME) -json bin/soak/soak.json | tee bin/soak/soak.md

bench-quick: deps-test build-all
	BENCH_QUICK=1 scripts/bench.sh

## fuzz: every decoder for FUZZTIME each (default 5m); the corpus it grows is
## copied into each package's testdata/fuzz, where go test replays it.
FUZZTIME ?= 5m
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

clean:
	rm -rf bin
