package app

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voicegate/voicegate/gateway/redisstore/redistest"
)

// TestRedisStore: with store.kind redis (its URL from VOICEGATE_REDIS_URL)
// the server reports the store on /readyz and in its metrics, and stays
// ready while Redis is down.
func TestRedisStore(t *testing.T) {
	redis := redistest.Start(t)
	r := serve(t, "store:\n  kind: redis\n  redis:\n    timeout: 300ms\n", map[string]string{"VOICEGATE_REDIS_URL": redis.URL()},
		"-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0")
	public, admin := "http://"+r.public.String(), "http://"+r.admin.String()
	if code, body := get(t, public+"/readyz", ""); code != http.StatusOK || body != "ready\nstore: ok\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if _, body := get(t, admin+"/metrics", ""); !strings.Contains(body, "voicegate_store_up 1") {
		t.Error("no voicegate_store_up 1 in the metrics")
	}
	// The per-key limits are shared (store.redis.local_limits false).
	deadline := time.Now().Add(10 * time.Second)
	for _, body := get(t, admin+"/metrics", ""); !strings.Contains(body, `voicegate_store_operations_total{op="limits",result="ok"}`); _, body = get(t, admin+"/metrics", "") {
		if time.Now().After(deadline) {
			t.Fatal("no exchange of the cluster-wide limits counted")
		}
		time.Sleep(100 * time.Millisecond)
	}
	redis.Kill()
	eventuallyBody(t, public+"/readyz", "ready\nstore: degraded\n")
}

// TestSessionFileSettings: store.file.path and the deprecated
// server.session_file each make the server keep its session file.
func TestSessionFileSettings(t *testing.T) {
	for name, yaml := range map[string]string{
		"store.file":          "store:\n  kind: file\n  file:\n    path: %s\n",
		"server.session_file": "server:\n  session_file: %s\n",
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "sessions.json")
			serve(t, fmt.Sprintf(yaml, file), nil, "-addr", "127.0.0.1:0", "-admin-addr", "off")
			if b, err := os.ReadFile(file); err != nil || !strings.Contains(string(b), `"version":1`) {
				t.Errorf("session file: %v %q", err, b)
			}
		})
	}
}

func eventuallyBody(t *testing.T, url, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := get(t, url, "")
		if body == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q, want %q", url, body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
