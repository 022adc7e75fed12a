package twilio

import (
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
)

// twimlDoc is what a TwiML parser sees of the document.
type twimlDoc struct {
	XMLName xml.Name `xml:"Response"`
	Connect struct {
		Stream struct {
			URL    string `xml:"url,attr"`
			Params []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"Parameter"`
		} `xml:"Stream"`
	} `xml:"Connect"`
}

func TestTwiML(t *testing.T) {
	tests := []struct {
		name   string
		url    string
		params []Parameter
		exact  string // the whole document, when given
	}{
		{"plain", "wss://voice.example.com/v1/twilio", nil,
			xml.Header + `<Response><Connect><Stream url="wss://voice.example.com/v1/twilio"/></Connect></Response>`},
		{"a parameter", "wss://voice.example.com/v1/twilio", []Parameter{{"token", "k3y"}},
			xml.Header + `<Response><Connect><Stream url="wss://voice.example.com/v1/twilio"><Parameter name="token" value="k3y"/></Stream></Connect></Response>`},
		{"escaping", `wss://h/v1/twilio?a=1&b="2"`, []Parameter{{`n<"&'>`, "line\nbreak\t<tag> & \"quote\" 'apos'"}, {"second", ""}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := TwiML(tc.url, tc.params...)
			if tc.exact != "" && string(b) != tc.exact {
				t.Fatalf("TwiML =\n%s\nwant\n%s", b, tc.exact)
			}
			var doc twimlDoc
			if err := xml.Unmarshal(b, &doc); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if doc.Connect.Stream.URL != tc.url {
				t.Errorf("url %q, want %q", doc.Connect.Stream.URL, tc.url)
			}
			var got []Parameter
			for _, p := range doc.Connect.Stream.Params {
				got = append(got, Parameter{p.Name, p.Value})
			}
			if !reflect.DeepEqual(got, tc.params) {
				t.Errorf("parameters %q, want %q", got, tc.params)
			}
			if strings.Count(string(b), "<Parameter") != len(tc.params) {
				t.Errorf("markup was injected: %s", b)
			}
		})
	}
}
