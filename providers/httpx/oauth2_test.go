package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voicegate/voicegate/pipeline"
)

func TestOAuth2ClientCredentials(t *testing.T) {
	var issued atomic.Int32
	var mu sync.Mutex
	var seen []string
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			id, secret, _ := r.BasicAuth()
			if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "client_credentials" ||
				r.Form.Get("scope") != "speech chat" || id != "gateway" || secret != "s3cret-client" {
				http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
				return
			}
			n := issued.Add(1)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":"at-%d-abcdef","token_type":"Bearer","expires_in":2}`, n)
			return
		}
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	})
	log, logs := newLogger()
	c := newClient(t, Config{
		BaseURL: srv.URL + "/v1",
		OAuth2: &OAuth2Config{
			TokenURL: srv.URL + "/oauth/token", ClientID: "gateway", ClientSecret: "s3cret-client",
			Scopes: []string{"speech", "chat"},
			// A 2 s token counts as expired 1.5 s early: after 0.5 s.
			ExpiryDelta: 1500 * time.Millisecond,
		},
	}, log)
	call := func() {
		resp, err := post(t, context.Background(), c, "/x", `{}`)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	call()
	call()
	time.Sleep(600 * time.Millisecond)
	call()
	want := []string{"Bearer at-1-abcdef", "Bearer at-1-abcdef", "Bearer at-2-abcdef"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("API saw %q, want %q", seen, want)
	}
	if issued.Load() != 2 {
		t.Fatalf("%d tokens issued, want 2", issued.Load())
	}
	if out := logs.String(); strings.Contains(out, "at-1-abcdef") || strings.Contains(out, "s3cret-client") {
		t.Fatalf("token or secret logged:\n%s", out)
	}
}

func TestOAuth2BadClientIsRejected(t *testing.T) {
	var api atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"bad secret"}`)
			return
		}
		api.Add(1)
	})
	c := newClient(t, Config{
		BaseURL: srv.URL,
		OAuth2:  &OAuth2Config{TokenURL: srv.URL + "/oauth/token", ClientID: "gateway", ClientSecret: "wrong"},
	}, nil)
	_, err := post(t, context.Background(), c, "/x", `{}`)
	if !errors.Is(err, pipeline.ErrRejected) || api.Load() != 0 {
		t.Fatalf("err = %v (api hits %d), want ErrRejected before any API call", err, api.Load())
	}
}
