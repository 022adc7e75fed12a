package echo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/voicegate/voicegate/pipeline"
)

// MaxResultBytes is how much of a tool's result an answer repeats.
const MaxResultBytes = 200

// minLastWord is how long the last word of a tool's name must be to match
// on its own: "get_weather" answers to "weather", "get_time" not to "time".
const minLastWord = 5

// fillers are the words dropped between a tool's name and its argument:
// "the weather in Paris", "the weather like in Paris".
var fillers = []string{"in", "for", "of", "at", "about", "is", "like"}

// ToolCall returns the call Echo makes to msgs when tools are offered, if
// any. It calls a tool when the newest message is the user's and its words
// hold the tool's name, its underscores and hyphens read as spaces
// ("get_weather" → "get weather"), or the name's last word alone when it
// has at least five letters ("weather"); matching is case-insensitive, on
// whole words, and the first tool that matches, in the order given, wins.
//
// The arguments fill the tool's JSON Schema: its first string property —
// the first of "required" that is a string, else the first in the order
// of "properties" — gets the user's words after the name, lower case,
// with leading "in", "for", "of", "at", "about", "is" and "like" dropped;
// every other required string property gets "". Other properties are left
// out; a schema without string properties gives "{}". So with
// {"city": string}, "What is the weather like in Paris?" calls
// get_weather with {"city":"paris"}.
//
// The call's ID is "call_" and 16 hex digits hashing the number of
// messages, the newest message's ID, the name and the arguments: the same
// conversation gets the same ID, and a later turn asking the same gets
// another, also once the history is at its cap.
func (e *Echo) ToolCall(msgs []pipeline.Message, tools []pipeline.Tool) (pipeline.ToolCall, bool) {
	if len(tools) == 0 || len(msgs) == 0 || msgs[len(msgs)-1].Role != pipeline.RoleUser {
		return pipeline.ToolCall{}, false
	}
	heard := words(msgs[len(msgs)-1].Content)
	for _, t := range tools {
		after, ok := match(heard, t.Name)
		if !ok {
			continue
		}
		for len(after) > 0 && slices.Contains(fillers, after[0]) {
			after = after[1:]
		}
		args := arguments(t.Parameters, strings.Join(after, " "))
		return pipeline.ToolCall{ID: callID(len(msgs), msgs[len(msgs)-1].ID, t.Name, args), Name: t.Name, Arguments: args}, true
	}
	return pipeline.ToolCall{}, false
}

// words splits s into lower-case words: letters and digits, with
// apostrophes kept inside a word ("what's").
func words(s string) []string {
	fields := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' && r != '’'
	})
	out := fields[:0]
	for _, f := range fields {
		if f = strings.Trim(f, "'’"); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// match finds the tool called name in heard and returns the words after
// it.
func match(heard []string, name string) ([]string, bool) {
	phrase := words(name)
	if len(phrase) == 0 {
		return nil, false
	}
	if i := find(heard, phrase); i >= 0 {
		return heard[i+len(phrase):], true
	}
	last := phrase[len(phrase)-1]
	if len(phrase) > 1 && utf8.RuneCountInString(last) >= minLastWord {
		if i := find(heard, phrase[len(phrase)-1:]); i >= 0 {
			return heard[i+1:], true
		}
	}
	return nil, false
}

// find returns where phrase first occurs in heard, or -1.
func find(heard, phrase []string) int {
	for i := 0; i+len(phrase) <= len(heard); i++ {
		if slices.Equal(heard[i:i+len(phrase)], phrase) {
			return i
		}
	}
	return -1
}

// property is one entry of a schema's "properties", in document order.
type property struct {
	name     string
	isString bool
}

// arguments builds the arguments for a tool with the JSON Schema schema:
// value for its first string property, "" for its other required string
// properties.
func arguments(schema json.RawMessage, value string) string {
	props, required := parseSchema(schema)
	isString := func(name string) bool {
		return slices.ContainsFunc(props, func(p property) bool { return p.name == name && p.isString })
	}
	first := ""
	for _, r := range required {
		if isString(r) {
			first = r
			break
		}
	}
	if first == "" {
		for _, p := range props {
			if p.isString {
				first = p.name
				break
			}
		}
	}
	if first == "" {
		return "{}"
	}
	var b bytes.Buffer
	b.WriteByte('{')
	field := func(k, v string) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k) // strings always marshal
		val, _ := json.Marshal(v)
		b.Write(key)
		b.WriteByte(':')
		b.Write(val)
	}
	field(first, value)
	seen := map[string]bool{first: true}
	for _, r := range required {
		if isString(r) && !seen[r] {
			seen[r] = true
			field(r, "")
		}
	}
	b.WriteByte('}')
	return b.String()
}

// parseSchema reads the properties of an object schema in document order,
// and its required list. A schema it cannot read has neither.
func parseSchema(schema json.RawMessage) ([]property, []string) {
	var s struct {
		Properties json.RawMessage `json:"properties"`
		Required   []string        `json:"required"`
	}
	if json.Unmarshal(schema, &s) != nil || len(s.Properties) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(s.Properties))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil
	}
	var props []property
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil
		}
		name, _ := tok.(string) // an object's keys are strings
		var p struct {
			Type json.RawMessage `json:"type"`
		}
		if err := dec.Decode(&p); err != nil {
			return nil, nil
		}
		props = append(props, property{name: name, isString: typeIsString(p.Type)})
	}
	return props, s.Required
}

// typeIsString reports whether a schema's "type" allows a string: "string"
// or a list holding it (["string", "null"]).
func typeIsString(t json.RawMessage) bool {
	var one string
	if json.Unmarshal(t, &one) == nil {
		return one == "string"
	}
	var many []string
	return json.Unmarshal(t, &many) == nil && slices.Contains(many, "string")
}

// callID names a call after what identifies it in its conversation.
func callID(n int, last, name, args string) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s\x00%s\x00%s", n, last, name, args)
	return fmt.Sprintf("call_%016x", h.Sum64())
}

// answer is the reply to the tool results that end msgs: "The get weather
// tool says: Sunny." for each, in order.
func answer(msgs []pipeline.Message) string {
	start := len(msgs)
	for start > 0 && msgs[start-1].Role == pipeline.RoleTool {
		start--
	}
	parts := make([]string, 0, len(msgs)-start)
	for _, m := range msgs[start:] {
		tool := "The tool"
		if name := toolName(msgs[:start], m.ToolCallID); name != "" {
			tool = "The " + strings.Join(words(name), " ") + " tool"
		}
		parts = append(parts, tool+" says: "+sentence(clip(strings.TrimSpace(m.Content), MaxResultBytes)))
	}
	return strings.Join(parts, " ")
}

// toolName returns the name of the call with id in msgs, or "".
func toolName(msgs []pipeline.Message, id string) string {
	for i := len(msgs) - 1; i >= 0 && id != ""; i-- {
		for _, c := range msgs[i].ToolCalls {
			if c.ID == id {
				return c.Name
			}
		}
	}
	return ""
}

// clip cuts s to at most n bytes, at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.TrimSpace(s[:n])
}
