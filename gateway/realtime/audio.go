package realtime

import (
	"encoding/json"
	"time"
)

// Format is a Realtime audio format, carried base64-encoded in JSON both
// ways.
type Format uint8

// The formats. The zero Format is none.
const (
	FormatPCM  Format = iota + 1 // GA audio/pcm (rate 24000), beta pcm16: 16-bit little-endian mono at 24 kHz
	FormatPCMU                   // GA audio/pcmu, beta g711_ulaw: G.711 μ-law at 8 kHz
	FormatPCMA                   // GA audio/pcma, beta g711_alaw: G.711 A-law at 8 kHz
)

// PCMRate is the only sample rate of audio/pcm.
const PCMRate = 24000

// Rate returns the format's sample rate in Hz.
func (f Format) Rate() int {
	if f == FormatPCM {
		return PCMRate
	}
	return 8000
}

// BytesPerSample is 2 for PCM16, 1 for G.711.
func (f Format) BytesPerSample() int {
	if f == FormatPCM {
		return 2
	}
	return 1
}

// Duration returns how long n bytes of audio in f last.
func (f Format) Duration(n int) time.Duration {
	samples := n / f.BytesPerSample()
	return time.Duration(samples) * time.Second / time.Duration(f.Rate())
}

// String returns the GA name: "audio/pcm", "audio/pcmu" or "audio/pcma".
func (f Format) String() string {
	switch f {
	case FormatPCM:
		return "audio/pcm"
	case FormatPCMU:
		return "audio/pcmu"
	case FormatPCMA:
		return "audio/pcma"
	}
	return "none"
}

// BetaName returns the beta name: "pcm16", "g711_ulaw" or "g711_alaw".
func (f Format) BetaName() string {
	switch f {
	case FormatPCM:
		return "pcm16"
	case FormatPCMU:
		return "g711_ulaw"
	case FormatPCMA:
		return "g711_alaw"
	}
	return ""
}

// gaFormat is a format as GA writes it: {"type": "audio/pcm", "rate": 24000}.
type gaFormat struct {
	Type string `json:"type"`
	Rate int    `json:"rate,omitempty"`
}

func (f Format) ga() gaFormat {
	g := gaFormat{Type: f.String()}
	if f == FormatPCM {
		g.Rate = PCMRate
	}
	return g
}

// parseFormat reads a format as d writes it; param names it in errors.
func parseFormat(raw json.RawMessage, d Dialect, param string) (Format, *Error) {
	if d == Beta {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, Invalid(CodeInvalidType, param, "Invalid type for '%s': expected one of 'pcm16', 'g711_ulaw', 'g711_alaw'.", param)
		}
		for _, f := range []Format{FormatPCM, FormatPCMU, FormatPCMA} {
			if s == f.BetaName() {
				return f, nil
			}
		}
		return 0, Invalid(CodeInvalidValue, param, "Invalid value: '%s'. Supported values are: 'pcm16', 'g711_ulaw', and 'g711_alaw'.", clip(s))
	}
	var g struct {
		Type *string `json:"type"`
		Rate *int    `json:"rate"`
	}
	if err := strictUnmarshal(raw, &g, param); err != nil {
		return 0, err
	}
	if g.Type == nil {
		return 0, Invalid(CodeMissingParameter, param+".type", "Missing required parameter: '%s.type'.", param)
	}
	for _, f := range []Format{FormatPCM, FormatPCMU, FormatPCMA} {
		if *g.Type != f.String() {
			continue
		}
		if g.Rate != nil && *g.Rate != f.Rate() {
			return 0, Invalid(CodeInvalidValue, param+".rate", "Invalid value: %d. %s is %d Hz only.", *g.Rate, f, f.Rate())
		}
		return f, nil
	}
	return 0, Invalid(CodeInvalidValue, param+".type", "Invalid value: '%s'. Supported values are: 'audio/pcm', 'audio/pcmu', and 'audio/pcma'.", clip(*g.Type))
}
