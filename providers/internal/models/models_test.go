package models

import (
	"errors"
	"testing"
)

func TestDir(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
		err  error
	}{
		{"explicit", map[string]string{"VOICEGATE_MODELS": "/m", "XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/m", nil},
		{"xdg cache", map[string]string{"XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/x/voicegate/models", nil},
		{"home", map[string]string{"HOME": "/h"}, "/h/.cache/voicegate/models", nil},
		{"empty values", map[string]string{"VOICEGATE_MODELS": "", "XDG_CACHE_HOME": "", "HOME": "/h"}, "/h/.cache/voicegate/models", nil},
		{"nothing", nil, "", ErrNoDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Dir(func(k string) string { return tt.env[k] })
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("Dir = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestDirProcessEnvironment(t *testing.T) {
	t.Setenv("VOICEGATE_MODELS", "/from/env")
	if got, err := Dir(nil); got != "/from/env" || err != nil {
		t.Errorf("Dir(nil) = %q, %v; want /from/env", got, err)
	}
}
