package openai

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// deltaDecoder turns the raw JSON "content" strings of a chat-completion
// stream into whole-rune text.
//
// Why not go-openai's Recv: it decodes each event with encoding/json, which
// turns invalid UTF-8 into U+FFFD. A server that cuts a multi-byte character
// between two events (raw bytes, or a surrogate pair as two \u escapes) would
// reach the listener as two replacement characters. So we take the raw event
// (RecvRaw), unquote the string ourselves keeping raw bytes and a trailing
// high surrogate, and hold back an incomplete trailing sequence until the
// next event completes it.
type deltaDecoder struct {
	buf  []byte // carried bytes of an incomplete trailing rune, then scratch
	high rune   // a high surrogate waiting for its low half, or 0
}

var errNotString = errors.New("delta content is not a JSON string")

// decode appends the content of raw (a JSON string or null) and returns the
// text that is now whole.
func (d *deltaDecoder) decode(raw []byte) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", errNotString
	}
	s := raw[1 : len(raw)-1]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			d.dropHigh()
			d.buf = append(d.buf, c)
			continue
		}
		i++
		if i >= len(s) {
			return "", errNotString
		}
		var r rune
		switch s[i] {
		case '"', '\\', '/':
			r = rune(s[i])
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			if i+4 >= len(s) {
				return "", errNotString
			}
			v, ok := hex4(s[i+1 : i+5])
			if !ok {
				return "", errNotString
			}
			i += 4
			d.surrogate(v)
			continue
		default:
			return "", errNotString
		}
		d.dropHigh()
		d.buf = utf8.AppendRune(d.buf, r)
	}
	return d.whole(), nil
}

// surrogate handles one \u escape.
func (d *deltaDecoder) surrogate(v rune) {
	switch {
	case utf16.IsSurrogate(v) && v < 0xDC00: // high half
		d.dropHigh()
		d.high = v
	case utf16.IsSurrogate(v): // low half
		r := utf16.DecodeRune(d.high, v) // U+FFFD when there is no high half
		d.high = 0
		d.buf = utf8.AppendRune(d.buf, r)
	default:
		d.dropHigh()
		d.buf = utf8.AppendRune(d.buf, v)
	}
}

// dropHigh replaces a high surrogate that no low half followed.
func (d *deltaDecoder) dropHigh() {
	if d.high != 0 {
		d.high = 0
		d.buf = utf8.AppendRune(d.buf, utf8.RuneError)
	}
}

// whole returns buf up to an incomplete trailing rune, which stays in buf.
// Bytes that can never become a rune are replaced with U+FFFD.
func (d *deltaDecoder) whole() string {
	cut := len(d.buf)
	for i := len(d.buf) - 1; i >= 0 && i >= len(d.buf)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(d.buf[i]) {
			if !utf8.FullRune(d.buf[i:]) {
				cut = i
			}
			break
		}
	}
	out := strings.ToValidUTF8(string(d.buf[:cut]), "\uFFFD")
	d.buf = append(d.buf[:0], d.buf[cut:]...)
	return out
}

// pending reports whether part of a rune is still held back.
func (d *deltaDecoder) pending() bool { return len(d.buf) > 0 || d.high != 0 }

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
