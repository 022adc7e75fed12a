package twilio

import (
	"encoding/base64"
	"encoding/json"
)

// AppendMedia appends to dst the outbound media message that has Twilio
// play audio (8 kHz μ-law bytes) on the stream streamSid, and returns the
// extended slice:
//
//	{"event":"media","streamSid":"MZ…","media":{"payload":"<base64>"}}
//
// It is the per-chunk hot path: with room in dst it allocates nothing (for
// a streamSid of letters and digits, as Twilio's are). It does not retain
// dst or audio.
func AppendMedia(dst []byte, streamSid string, audio []byte) []byte {
	dst = append(dst, `{"event":"media","streamSid":`...)
	dst = appendString(dst, streamSid)
	dst = append(dst, `,"media":{"payload":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, audio)
	return append(dst, `"}}`...)
}

// MediaBytes is the length of the message AppendMedia writes for n bytes
// of audio and a streamSid of sidLen plain characters.
func MediaBytes(sidLen, n int) int {
	return len(`{"event":"media","streamSid":"","media":{"payload":""}}`) + sidLen + base64.StdEncoding.EncodedLen(n)
}

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
