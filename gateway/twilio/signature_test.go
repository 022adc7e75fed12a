package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"testing"
)

// The example of Twilio's security documentation: its URL, parameters and
// the signature it gives for auth token 12345 (checked with openssl dgst
// -sha1 -hmac 12345 over the string below).
const (
	docToken = "12345"
	docURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
	docSig   = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
)

var docParams = url.Values{
	"CallSid": {"CA1234567890ABCDE"},
	"Caller":  {"+12349013030"},
	"Digits":  {"1234"},
	"From":    {"+12349013030"},
	"To":      {"+18005551212"},
}

// reference computes a signature from the string Twilio describes, written
// out by hand: the URL, then each name and value in name order.
func reference(token, signed string) string {
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(signed))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSignatureKnownAnswers(t *testing.T) {
	const token = "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"
	tests := []struct {
		name   string
		token  string
		url    string
		params url.Values
		signed string // what is hashed, by hand
		want   string // "" to take reference(token, signed)
	}{
		{"Twilio's documented example", docToken, docURL, docParams,
			docURL + "CallSidCA1234567890ABCDECaller+12349013030Digits1234From+12349013030To+18005551212", docSig},
		{"WebSocket upgrade: the URL alone", token, "wss://voice.example.com/v1/twilio", nil,
			"wss://voice.example.com/v1/twilio", "3dh1kxQ8ZyB1FnKYEUTz7HkFfeA="},
		{"names sorted bytewise (capitals first), values of one name sorted", token, "https://h/v1/twilio/voice",
			url.Values{"b": {"2", "1"}, "B": {"x"}, "a": {""}},
			"https://h/v1/twilio/voice" + "Bx" + "a" + "b1b2", ""},
		{"values are not escaped", token, "https://h/v", url.Values{"From": {"+1 (555) & <x>"}},
			"https://h/vFrom+1 (555) & <x>", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := reference(tc.token, tc.signed)
			if tc.want != "" && tc.want != want {
				t.Fatalf("the test's own computation %s disagrees with the recorded %s", want, tc.want)
			}
			if got := Signature(tc.token, tc.url, tc.params); got != want {
				t.Fatalf("Signature = %s, want %s", got, want)
			}
			if !ValidSignature(tc.token, want, tc.url, tc.params) {
				t.Fatal("ValidSignature refuses the right signature")
			}
		})
	}
}

func TestValidSignatureRefuses(t *testing.T) {
	other := url.Values{}
	for k, v := range docParams {
		other[k] = v
	}
	other.Set("Digits", "1235")
	tests := []struct {
		name, token, sig, url string
		params                url.Values
	}{
		{"another token", "12346", docSig, docURL, docParams},
		{"another URL", docToken, docSig, "https://mycompany.com/myapp.php?foo=1&bar=3", docParams},
		{"http for https", docToken, docSig, "http://mycompany.com/myapp.php?foo=1&bar=2", docParams},
		{"another value", docToken, docSig, docURL, other},
		{"no parameters", docToken, docSig, docURL, nil},
		{"empty signature", docToken, "", docURL, docParams},
		{"not base64", docToken, "0/KCTR6DLpKmkAf8muzZqo1nDgQ", docURL, docParams},
		{"truncated", docToken, "0/KCTR6DLpKmkAf8", docURL, docParams},
		{"no token", "", reference("", docURL), docURL, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if ValidSignature(tc.token, tc.sig, tc.url, tc.params) {
				t.Fatal("accepted")
			}
		})
	}
}

// TestValidSignaturePorts: a URL signed with its default port written out
// checks against the URL without it, and the other way round; another port
// does not.
func TestValidSignaturePorts(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		signed, checked string
		ok              bool
	}{
		{"wss://h.example.com:443/v1/twilio", "wss://h.example.com/v1/twilio", true},
		{"wss://h.example.com/v1/twilio", "wss://h.example.com:443/v1/twilio", true},
		{"https://h.example.com/v1/twilio/voice?x=1", "https://h.example.com:443/v1/twilio/voice?x=1", true},
		{"http://h.example.com:80/v", "http://h.example.com/v", true},
		{"wss://h.example.com:8443/v1/twilio", "wss://h.example.com/v1/twilio", false},
		{"wss://h.example.com:80/v1/twilio", "wss://h.example.com/v1/twilio", false},
	}
	for _, tc := range tests {
		sig := Signature(token, tc.signed, nil)
		if got := ValidSignature(token, sig, tc.checked, nil); got != tc.ok {
			t.Errorf("signed %s, checked %s: %v, want %v", tc.signed, tc.checked, got, tc.ok)
		}
	}
}
