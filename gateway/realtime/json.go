package realtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// strictUnmarshal decodes raw into v, refusing fields v does not have, and
// returns what is wrong as an *Error about param (the path of raw in the
// event, "" for the event itself).
func strictUnmarshal(raw []byte, v any, param string) *Error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, param)
	}
	return nil
}

// jsonError turns an encoding/json error into the Realtime error a client
// is told.
func jsonError(err error, param string) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		p := join(param, te.Field)
		return Invalid(CodeInvalidType, p, "Invalid type for '%s': expected %s, but got %s.", p, typeName(te.Type.Kind().String()), te.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		p := join(param, strings.Trim(name, `"`))
		return Invalid(CodeUnknownParameter, p, "Unknown parameter: '%s'.", clip(p))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return Invalid(CodeInvalidJSON, param, "The event is not valid JSON: %v", err)
	}
	return Invalid(CodeInvalidValue, param, "Invalid value for '%s': %v", param, err)
}

func typeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "a number"
}

func join(param, field string) string {
	switch {
	case param == "":
		return field
	case field == "":
		return param
	}
	return param + "." + field
}

// clip shortens s for an error message, so a client cannot make the server
// echo a megabyte back.
func clip(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// isNull reports whether raw is the JSON null.
func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// fields calls f with each key of the JSON object data and the raw bytes of
// its value, in order. data must be valid JSON (json.Valid); fields
// reports false if it is not an object. It allocates nothing unless a key
// holds an escape.
func fields(data []byte, f func(key, value []byte)) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return true
	}
	for i < len(data) {
		kEnd := skipString(data, i)
		key := data[i+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var s string
			json.Unmarshal(data[i:kEnd], &s) // valid JSON: cannot fail
			key = []byte(s)
		}
		i = skipSpace(data, kEnd)
		i = skipSpace(data, i+1) // ':'
		vEnd := skipValue(data, i)
		f(key, data[i:vEnd])
		i = skipSpace(data, vEnd)
		if i >= len(data) || data[i] == '}' {
			break
		}
		i = skipSpace(data, i+1) // ','
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string that starts at b[i].
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value that starts at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && !strings.ContainsRune(" \t\r\n,}]", rune(b[j])) {
		j++
	}
	return j
}
