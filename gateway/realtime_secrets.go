package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/voicegate/voicegate/gateway/realtime"
)

// Client secrets: POST /v1/realtime/client_secrets, with an API key, mints
// an ek_ key for a browser (which must not hold the API key) to open one
// /v1/realtime connection with, within ClientSecretTTL. The request may
// give the session's settings, which the connection then starts with, as
// OpenAI's endpoint takes them: {"expires_after": {"anchor":
// "created_at", "seconds": N}, "session": {…}}. The answer is
// {"value": "ek_…", "expires_at": …, "session": {…}}.

// clientSecret is what an ek_ key was minted with.
type clientSecret struct {
	sessionID string // the ID its session will have
	model     string
	update    realtime.SessionUpdate
}

type clientSecretRequest struct {
	ExpiresAfter *struct {
		Anchor  *string `json:"anchor"`
		Seconds *int    `json:"seconds"`
	} `json:"expires_after"`
	Session json.RawMessage `json:"session"`
}

type clientSecretAnswer struct {
	Value     string `json:"value"`
	ExpiresAt int64  `json:"expires_at"`
	Session   any    `json:"session"`
}

// minSecretTTL is the shortest life a request may ask for, OpenAI's.
const minSecretTTL = 10 * time.Second

func (s *Server) serveClientSecrets(w http.ResponseWriter, r *http.Request) {
	who, ok := s.keyRequest(w, r)
	if !ok {
		return
	}
	o := &s.opts.Realtime
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(o.MaxEventBytes)))
	if err != nil {
		writeRealtimeError(w, http.StatusRequestEntityTooLarge, realtime.Invalid(realtime.CodeEventTooLarge, "", "The request body is over %d bytes.", o.MaxEventBytes))
		return
	}
	secret, ttl, rerr := s.parseClientSecret(body)
	if rerr != nil {
		writeRealtimeError(w, http.StatusBadRequest, rerr)
		return
	}
	now := s.opts.Now()
	tok, retryAfter, ok := s.rt.secrets.mintWith(who, secret, ttl, now)
	if !ok {
		s.refuseTicket(w, retryAfter, o.MaxClientSecrets)
		return
	}
	// The session the key opens, as it will start.
	rt := &rtConn{srv: s, model: secret.model, secret: secret, profile: o.findModel(secret.model)}
	cfg := rt.initialConfig()
	cfg.ID = "sess_" + secret.sessionID
	b, _ := json.Marshal(clientSecretAnswer{Value: tok, ExpiresAt: now.Add(ttl).Unix(), Session: json.RawMessage(mustMarshal(&cfg))})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.Write(b)
}

func mustMarshal(cfg *realtime.Session) []byte {
	b, _ := cfg.MarshalDialect(realtime.GA) // plain data: cannot fail
	return b
}

// parseClientSecret reads a client_secrets request body ("" is fine).
func (s *Server) parseClientSecret(body []byte) (*clientSecret, time.Duration, *realtime.Error) {
	o := &s.opts.Realtime
	secret := &clientSecret{sessionID: randomToken(12)}
	ttl := o.ClientSecretTTL
	if len(bytes.TrimSpace(body)) == 0 {
		return secret, ttl, nil
	}
	var in clientSecretRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, 0, realtime.Invalid(realtime.CodeInvalidType, te.Field, "Invalid type for '%s'.", te.Field)
		}
		return nil, 0, realtime.Invalid(realtime.CodeInvalidValue, "", "The request body is not a client secret request: %v", err)
	}
	if e := in.ExpiresAfter; e != nil {
		if e.Anchor != nil && *e.Anchor != "created_at" {
			return nil, 0, realtime.Invalid(realtime.CodeInvalidValue, "expires_after.anchor", "Invalid value: '%s'. Supported values are: 'created_at'.", clipText(*e.Anchor))
		}
		if e.Seconds != nil {
			ttl = time.Duration(*e.Seconds) * time.Second
			if ttl < minSecretTTL || ttl > o.ClientSecretTTL {
				return nil, 0, realtime.Invalid(realtime.CodeInvalidValue, "expires_after.seconds", "expires_after.seconds must be between %d and %d here.", int(minSecretTTL.Seconds()), int(o.ClientSecretTTL.Seconds()))
			}
		}
	}
	if len(in.Session) > 0 && !bytes.Equal(bytes.TrimSpace(in.Session), []byte("null")) {
		u, err := realtime.ParseSession(in.Session, realtime.GA, s.turnDefaults())
		if err != nil {
			return nil, 0, err
		}
		if u.Model != nil {
			if o.findModel(*u.Model) == nil {
				return nil, 0, realtime.Invalid(realtime.CodeUnknownModel, "session.model", "The model '%s' is not served here; this server answers to: %s.", clipText(*u.Model), o.modelNames())
			}
			secret.model = *u.Model
		}
		if u.Audio != nil && *u.Audio && s.opts.Stages.TTS == nil {
			return nil, 0, realtime.Invalid(realtime.CodeNotAvailable, "session.output_modalities", "This server has no speech synthesizer: replies are text only.")
		}
		if u.Transcription.Set {
			if _, err := s.opts.realtimeLanguage(u.Transcription.Value); err != nil {
				return nil, 0, err
			}
		}
		secret.update = u
	}
	return secret, ttl, nil
}

// writeRealtimeError answers an HTTP request as OpenAI's API does:
// {"error": {…}}.
func writeRealtimeError(w http.ResponseWriter, status int, err *realtime.Error) {
	b, _ := json.Marshal(struct {
		Error *realtime.Error `json:"error"`
	}{err})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
