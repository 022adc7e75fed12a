package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/voicegate/voicegate/pipeline"
)

// Error is a failed call to an HTTP provider. errors.Is(err, pipeline.ErrX)
// reports its kind; errors.As gives the details.
type Error struct {
	Provider   string
	Kind       error         // one of the pipeline error kinds
	StatusCode int           // the HTTP status, 0 when there was no response
	Message    string        // the provider's own words, secrets scrubbed
	RetryAfter time.Duration // what the provider or the breaker asked to wait, if anything
	Err        error         // the underlying cause, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	b.WriteString(": ")
	b.WriteString(e.Kind.Error())
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the kind and the cause, so errors.Is finds both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// outcome is what an attempt tells the limiter about the provider's health.
type outcome uint8

const (
	neutral outcome = iota // says nothing: our cancel, a 429
	healthy                // the provider answered (2xx or a 4xx of ours)
	failed                 // 5xx, connect failure, TTFB timeout, broken stream
)

// Causes of our own cancellations, told apart with context.Cause.
var (
	errTTFB        = errors.New("no response body within the time-to-first-byte limit")
	errCallTimeout = errors.New("call exceeded its timeout")
)

// statusError maps a non-2xx answer.
func (c *Client) statusError(resp *http.Response, body []byte) (retry bool, o outcome, err *Error) {
	e := &Error{Provider: c.name, StatusCode: resp.StatusCode, Message: c.scrub(providerMessage(body))}
	code := resp.StatusCode
	switch {
	case code == http.StatusTooManyRequests:
		e.Kind, retry, o = pipeline.ErrRateLimited, true, neutral
	case code >= 500:
		e.Kind, retry, o = pipeline.ErrUnavailable, true, failed
	case code == http.StatusRequestTimeout:
		e.Kind, o = pipeline.ErrTimeout, healthy
	case code >= 400:
		e.Kind, o = pipeline.ErrRejected, healthy
	default: // 1xx or a 3xx the client did not follow
		e.Kind, o = pipeline.ErrBadResponse, healthy
	}
	if d, ok := retryAfter(resp.Header, c.clock.Now()); ok {
		e.RetryAfter = d
	}
	return retry, o, e
}

// providerMessage extracts the human part of an error body: OpenAI's
// {"error":{"message":...}}, {"error":"..."}, FastAPI's {"detail":...}, or
// the text itself.
func providerMessage(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	var v struct {
		Error   json.RawMessage `json:"error"`
		Detail  json.RawMessage `json:"detail"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &v) == nil {
		if m := jsonText(v.Error, "message"); m != "" {
			return truncate(m)
		}
		if m := jsonText(v.Detail, "msg"); m != "" {
			return truncate(m)
		}
		if v.Message != "" {
			return truncate(v.Message)
		}
	}
	return truncate(string(body))
}

// jsonText returns raw as text: a JSON string, the field key of an object,
// or the JSON itself.
func jsonText(raw json.RawMessage, key string) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) == nil {
		if s, ok := m[key].(string); ok && s != "" {
			return s
		}
	}
	return string(raw)
}

const maxMessage = 300

func truncate(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	if utf8.RuneCountInString(s) <= maxMessage {
		return s
	}
	r := []rune(s)
	return string(r[:maxMessage]) + "…"
}

// retryAfter reads Retry-After (delta-seconds or an HTTP date) or OpenAI's
// retry-after-ms.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 32); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
