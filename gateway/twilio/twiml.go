package twilio

import (
	"bytes"
	"encoding/xml"
)

// ContentType is the media type of a TwiML document.
const ContentType = "text/xml; charset=utf-8"

// Parameter is a <Parameter> of a <Stream>: Twilio passes it to the
// stream's start message, in customParameters.
type Parameter struct {
	Name, Value string
}

// TwiML returns the TwiML document that connects a call to the
// bidirectional stream at streamURL (a wss:// URL), with params:
//
//	<?xml version="1.0" encoding="UTF-8"?>
//	<Response><Connect><Stream url="wss://…"><Parameter name="…" value="…"/></Stream></Connect></Response>
//
// Attribute values are XML-escaped.
func TwiML(streamURL string, params ...Parameter) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<Response><Connect><Stream url="`)
	xml.EscapeText(&b, []byte(streamURL)) // a bytes.Buffer does not fail
	b.WriteString(`"`)
	if len(params) == 0 {
		b.WriteString(`/></Connect></Response>`)
		return b.Bytes()
	}
	b.WriteString(`>`)
	for _, p := range params {
		b.WriteString(`<Parameter name="`)
		xml.EscapeText(&b, []byte(p.Name))
		b.WriteString(`" value="`)
		xml.EscapeText(&b, []byte(p.Value))
		b.WriteString(`"/>`)
	}
	b.WriteString(`</Stream></Connect></Response>`)
	return b.Bytes()
}
