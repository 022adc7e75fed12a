package httpx

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func zapAny(k string, v any) zap.Field { return zap.Any(k, v) }
func zapErr(err error) zap.Field       { return zap.Error(err) }

func TestSecretRedacted(t *testing.T) {
	const key = "sk-very-secret"
	cfg := Config{Name: "x", BaseURL: "http://h", APIKey: key, OAuth2: &OAuth2Config{ClientSecret: key}}
	j, _ := json.Marshal(cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg.APIKey), string(j), cfg.APIKey.String()} {
		if strings.Contains(s, key) {
			t.Fatalf("leaked: %s", s)
		}
	}
	if cfg.APIKey.Reveal() != key {
		t.Fatal("Reveal")
	}
}

func TestConfigKeySources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("sk-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VG_KEY", "sk-from-env")
	tests := []struct {
		name    string
		cfg     Config
		want    string
		wantErr string
	}{
		{"inline", Config{APIKey: "sk-inline"}, "sk-inline", ""},
		{"env", Config{APIKeyEnv: "VG_KEY"}, "sk-from-env", ""},
		{"file", Config{APIKeyFile: file}, "sk-from-file", ""},
		{"none", Config{}, "", ""},
		{"empty env", Config{APIKeyEnv: "VG_NOT_SET_ANYWHERE"}, "", "is empty"},
		{"missing file", Config{APIKeyFile: filepath.Join(dir, "nope")}, "", "no such file"},
		{"two sources", Config{APIKey: "a", APIKeyEnv: "VG_KEY"}, "", "at most one"},
		{"bad url", Config{BaseURL: "ftp://x"}, "", "want http(s)"},
		{"oauth2 incomplete", Config{OAuth2: &OAuth2Config{TokenURL: "http://t"}}, "", "client_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.BaseURL == "" {
				tt.cfg.BaseURL = "http://localhost:1/v1"
			}
			c, err := New(tt.cfg, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.key.Reveal() != tt.want {
				t.Fatalf("key %q", c.key.Reveal())
			}
		})
	}
}

func TestTransportSettings(t *testing.T) {
	c, err := New(Config{BaseURL: "https://api.example.com/v1/", MaxConcurrency: 40}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.tr.TLSClientConfig.MinVersion < 0x0303 {
		t.Fatal("TLS below 1.2 allowed")
	}
	if c.tr.Proxy == nil || c.tr.MaxIdleConnsPerHost != 40 {
		t.Fatalf("transport: proxy %v, idle per host %d", c.tr.Proxy != nil, c.tr.MaxIdleConnsPerHost)
	}
	if c.BaseURL() != "https://api.example.com/v1" {
		t.Fatal(c.BaseURL())
	}
}
