package cache_test

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/cache"
)

// redisServer starts a redis-server of its own on a loopback port, with
// no persistence, and returns its address; the test stops it.
func redisServer(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is not installed: apt-get install -y redis-server (make deps-test does)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	l.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			fmt.Fprint(c, "PING\r\n")
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newRedis(t *testing.T, url string) *cache.Redis {
	t.Helper()
	c := cache.DefaultConfig().Redis
	c.URL = url
	c.Timeout = time.Second // the default 100 ms is tight for a first call under -race on a busy machine
	r, err := cache.NewRedis(c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRedisStore(t *testing.T) {
	addr := redisServer(t)
	r := newRedis(t, "redis://"+addr+"/0")
	defer r.Close()
	ctx := t.Context()
	if _, ok, err := r.Get(ctx, "tts:none"); ok || err != nil {
		t.Fatalf("missing key: ok %v, %v", ok, err)
	}
	val := []byte{0, 1, 2, 255}
	if err := r.Set(ctx, "tts:a", val, time.Second); err != nil {
		t.Fatal(err)
	}
	val[0] = 9 // Set must not retain it
	got, ok, err := r.Get(ctx, "tts:a")
	if err != nil || !ok || string(got) != string([]byte{0, 1, 2, 255}) {
		t.Fatalf("Get = %v, %v, %v", got, ok, err)
	}
	// Redis keeps the TTL: the key is gone after it.
	time.Sleep(1100 * time.Millisecond)
	if _, ok, err := r.Get(ctx, "tts:a"); ok || err != nil {
		t.Fatalf("after its ttl: ok %v, %v", ok, err)
	}
}

// TestSharedTier: two gateways, each with its own in-process cache, share
// Redis: a sentence the first synthesized is served to the second from
// Redis, without its provider.
func TestSharedTier(t *testing.T) {
	addr := redisServer(t)
	reg := prometheus.NewRegistry()
	m, err := cache.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	node := func() (*counting, *cache.Remote, func(string) []int16) {
		inner := newCounting(&pipelinetest.Tone{})
		remote := cache.NewRemote(newRedis(t, "redis://"+addr), cache.RemoteOptions{Metrics: m})
		s := wrapTTS(t, inner, ttsConfig(), cache.Options{Remote: remote, Metrics: m, Variant: "tone{}"})
		return inner, remote, func(text string) []int16 {
			pcm, err := speak(t.Context(), s, text)
			if err != nil {
				t.Fatal(err)
			}
			return pcm
		}
	}
	firstInner, first, sayFirst := node()
	secondInner, second, saySecond := node()
	want := sayFirst("Welcome to the line.")
	first.Close() // waits for the write to Redis
	if got := saySecond("Welcome to the line."); len(got) != len(want) || got[len(got)/2] != want[len(want)/2] {
		t.Fatalf("from Redis: %d samples, made %d", len(got), len(want))
	}
	saySecond("Welcome to the line.")
	second.Close()
	if firstInner.calls.Load() != 1 || secondInner.calls.Load() != 0 {
		t.Fatalf("providers called %d and %d times, want 1 and 0", firstInner.calls.Load(), secondInner.calls.Load())
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"voicegate_cache_hits_total", []string{"cache", "tts", "tier", "redis"}, 1},
		{"voicegate_cache_hits_total", []string{"cache", "tts", "tier", "memory"}, 1},
		{"voicegate_cache_misses_total", []string{"cache", "tts"}, 1},
		{"voicegate_cache_stores_total", []string{"cache", "tts", "tier", "redis"}, 1},
		{"voicegate_cache_stores_total", []string{"cache", "tts", "tier", "memory"}, 2},
	} {
		if got := metric(t, reg, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// TestRedisDown: with Redis unreachable every lookup is a miss, no turn
// fails, and the failures are logged once, not once per call.
func TestRedisDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	core, logs := observer.New(zap.WarnLevel)
	reg := prometheus.NewRegistry()
	m, err := cache.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	remote := cache.NewRemote(newRedis(t, "redis://"+addr), cache.RemoteOptions{Log: zap.New(core), Metrics: m, Now: clk.now})
	defer remote.Close()
	inner := newCounting(&pipelinetest.Tone{})
	s := wrapTTS(t, inner, ttsConfig(), cache.Options{Remote: remote, Metrics: m, Now: clk.now})
	for i := range 20 {
		// A new sentence each time: each one misses in process and would
		// ask Redis, unless it is resting after a failure.
		if _, err := speak(t.Context(), s, fmt.Sprintf("Sentence number %d.", i)); err != nil {
			t.Fatalf("call %d failed with Redis down: %v", i, err)
		}
		clk.advance(2 * time.Second) // past the rest: Redis is tried again
	}
	if inner.calls.Load() != 20 {
		t.Fatalf("provider called %d times", inner.calls.Load())
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("%d warnings for 20 failures in 40 s, want 1: %v", n, logs.All())
	}
	if got := metric(t, reg, "voicegate_cache_redis_errors_total", "cache", "tts", "op", "get"); got < 10 {
		t.Errorf("%v failed reads counted", got)
	}
	clk.advance(time.Minute)
	if _, err := speak(t.Context(), s, "One more."); err != nil {
		t.Fatal(err)
	}
	if n := logs.Len(); n != 2 {
		t.Fatalf("%d warnings after a minute more, want 2", n)
	}
	if f := logs.All()[1].ContextMap(); f["unlogged_failures"] == int64(0) {
		t.Errorf("the second warning says no failures went unlogged: %v", f)
	}
}

func TestRedisURLNeverRepeated(t *testing.T) {
	c := cache.DefaultConfig()
	c.Redis.URL = "redis://:s3cretpass@host:notaport/0"
	err := c.Validate()
	if err == nil {
		t.Fatal("a bad URL validated")
	}
	if strings.Contains(err.Error(), "s3cretpass") {
		t.Fatalf("the error repeats the password: %v", err)
	}
	c.Redis.URL = "http://host:6379"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "cache.redis.url") {
		t.Fatalf("http URL: %v", err)
	}
}
