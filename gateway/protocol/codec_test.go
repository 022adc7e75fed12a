package protocol

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
		code Code
	}{
		{"start minimal", `{"type":"session.start"}`, &SessionStart{Type: TypeSessionStart}, ""},
		{"start full", `{"type":"session.start","version":1,"input_audio":{"sample_rate":48000},"output_audio":{"sample_rate":24000},"text_only":true,"resume_token":"abc"}`,
			&SessionStart{Type: TypeSessionStart, Version: 1, InputAudio: &AudioFormat{48000}, OutputAudio: &AudioFormat{24000}, TextOnly: true, ResumeToken: "abc"}, ""},
		{"start unknown field ignored", `{"type":"session.start","future":1}`, &SessionStart{Type: TypeSessionStart}, ""},
		{"start language", `{"type":"session.start","language":"zh"}`, &SessionStart{Type: TypeSessionStart, Language: "zh"}, ""},
		{"start language with region", `{"type":"session.start","language":"zh-CN"}`, &SessionStart{Type: TypeSessionStart, Language: "zh-CN"}, ""},
		{"start language with script and region", `{"type":"session.start","language":"zh-Hans-CN"}`, &SessionStart{Type: TypeSessionStart, Language: "zh-Hans-CN"}, ""},
		{"start language with underscore", `{"type":"session.start","language":"en_US"}`, &SessionStart{Type: TypeSessionStart, Language: "en_US"}, ""},
		{"start language empty subtag", `{"type":"session.start","language":"zh--CN"}`, nil, CodeInvalidMessage},
		{"start language trailing dash", `{"type":"session.start","language":"zh-"}`, nil, CodeInvalidMessage},
		{"start language digit first", `{"type":"session.start","language":"1zh"}`, nil, CodeInvalidMessage},
		{"start language with a space", `{"type":"session.start","language":"zh CN"}`, nil, CodeInvalidMessage},
		{"start language non-ASCII", `{"type":"session.start","language":"中文"}`, nil, CodeInvalidMessage},
		{"start language subtag too long", `{"type":"session.start","language":"zh-abcdefghi"}`, nil, CodeInvalidMessage},
		{"start language too long", `{"type":"session.start","language":"` + strings.Repeat("ab-", 12) + `ab"}`, nil, CodeInvalidMessage},
		{"start language a number", `{"type":"session.start","language":5}`, nil, CodeInvalidMessage},
		{"start bad version", `{"type":"session.start","version":2}`, nil, CodeUnsupportedVersion},
		{"start wrong field type", `{"type":"session.start","input_audio":{"sample_rate":"fast"}}`, nil, CodeInvalidMessage},
		{"start long token", `{"type":"session.start","resume_token":"` + strings.Repeat("x", 300) + `"}`, nil, CodeInvalidMessage},
		{"text", `{"type":"input.text","text":"hello"}`, &InputText{Type: TypeInputText, Text: "hello"}, ""},
		{"text empty", `{"type":"input.text","text":"  "}`, nil, CodeInvalidMessage},
		{"text too long", `{"type":"input.text","text":"` + strings.Repeat("a", 5000) + `"}`, nil, CodeTextTooLong},
		{"interrupt", `{"type":"interrupt"}`, &Interrupt{Type: TypeInterrupt}, ""},
		{"ping", `{"type":"ping","id":"7","client_time":12.5}`, &Ping{Type: TypePing, ID: "7", ClientTime: 12.5}, ""},
		{"start with tools", `{"type":"session.start","tools":[{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}}},{"name":"hang-up","parameters":null}]}`,
			&SessionStart{Type: TypeSessionStart, Tools: []Tool{
				{Name: "get_weather", Description: "Weather now", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)},
				{Name: "hang-up"}}}, ""},
		{"start with no tools", `{"type":"session.start","tools":[]}`, &SessionStart{Type: TypeSessionStart, Tools: []Tool{}}, ""},
		{"start tools over the cap", `{"type":"session.start","tools":[` + manyTools(MaxTools+1) + `]}`, nil, CodeInvalidMessage},
		{"start tools at the cap", `{"type":"session.start","tools":[` + manyTools(2) + `]}`,
			&SessionStart{Type: TypeSessionStart, Tools: []Tool{{Name: "tool_0"}, {Name: "tool_1"}}}, ""},
		{"tool without name", `{"type":"session.start","tools":[{"description":"x"}]}`, nil, CodeInvalidMessage},
		{"tool name with a space", `{"type":"session.start","tools":[{"name":"get weather"}]}`, nil, CodeInvalidMessage},
		{"tool name too long", `{"type":"session.start","tools":[{"name":"` + strings.Repeat("n", 65) + `"}]}`, nil, CodeInvalidMessage},
		{"tool names twice", `{"type":"session.start","tools":[{"name":"a"},{"name":"a"}]}`, nil, CodeInvalidMessage},
		{"tool parameters an array", `{"type":"session.start","tools":[{"name":"a","parameters":[1]}]}`, nil, CodeInvalidMessage},
		{"tool parameters a string", `{"type":"tools.set","tools":[{"name":"a","parameters":"{}"}]}`, nil, CodeInvalidMessage},
		{"tools not a list", `{"type":"session.start","tools":{"name":"a"}}`, nil, CodeInvalidMessage},
		{"tools.set", `{"type":"tools.set","tools":[{"name":"lookup","parameters":{"type":"object"}}]}`,
			&ToolsSet{Type: TypeToolsSet, Tools: []Tool{{Name: "lookup", Parameters: json.RawMessage(`{"type":"object"}`)}}}, ""},
		{"tools.set empty", `{"type":"tools.set","tools":[]}`, &ToolsSet{Type: TypeToolsSet, Tools: []Tool{}}, ""},
		{"tools.set without tools", `{"type":"tools.set"}`, nil, CodeInvalidMessage},
		{"tools.set null", `{"type":"tools.set","tools":null}`, nil, CodeInvalidMessage},
		{"tools.set over the cap", `{"type":"tools.set","tools":[` + manyTools(MaxTools+1) + `]}`, nil, CodeInvalidMessage},
		{"tool.result", `{"type":"tool.result","call_id":"call_1","output":"{\"temp_c\":21}"}`, &ToolResult{Type: TypeToolResult, CallID: "call_1", Output: `{"temp_c":21}`}, ""},
		{"tool.result empty output", `{"type":"tool.result","call_id":"call_1"}`, &ToolResult{Type: TypeToolResult, CallID: "call_1"}, ""},
		{"tool.result without call_id", `{"type":"tool.result","output":"x"}`, nil, CodeInvalidMessage},
		{"tool.result long call_id", `{"type":"tool.result","call_id":"` + strings.Repeat("c", 129) + `"}`, nil, CodeInvalidMessage},
		{"tool.result output too long", `{"type":"tool.result","call_id":"c","output":"` + strings.Repeat("o", 4097) + `"}`, nil, CodeTextTooLong},
		{"tool.result output a number", `{"type":"tool.result","call_id":"c","output":5}`, nil, CodeInvalidMessage},
		{"unknown type", `{"type":"dance"}`, nil, CodeUnknownType},
		{"no type", `{"text":"hi"}`, nil, CodeInvalidMessage},
		{"null type", `{"type":null}`, nil, CodeInvalidMessage},
		{"not json", `hello`, nil, CodeInvalidJSON},
		{"truncated", `{"type":"ping"`, nil, CodeInvalidJSON},
		{"array", `[1,2]`, nil, CodeInvalidJSON},
		{"empty", ``, nil, CodeInvalidJSON},
		{"invalid utf8", "{\"type\":\"input.text\",\"text\":\"\xff\"}", nil, CodeInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in), 4096)
			if tt.code != "" {
				code, ok := CodeOf(err)
				if !ok || code != tt.code {
					t.Fatalf("Decode(%q) error = %v, want code %s", tt.in, err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tt.want)
			if string(gj) != string(wj) {
				t.Fatalf("Decode(%q) = %s, want %s", tt.in, gj, wj)
			}
		})
	}
}

// manyTools returns n tool definitions, comma-separated.
func manyTools(n int) string {
	defs := make([]string, n)
	for i := range defs {
		defs[i] = fmt.Sprintf(`{"name":"tool_%d"}`, i)
	}
	return strings.Join(defs, ",")
}

func TestEncodeSetsFields(t *testing.T) {
	b, err := Encode(NewError(CodeFrameTooLarge, "frame of 9000 bytes", true))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"error","code":"frame_too_large","message":"frame of 9000 bytes","fatal":true,"retryable":false}`
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}

func BenchmarkDecodePing(b *testing.B) {
	msg := []byte(`{"type":"ping","id":"42","client_time":123.25}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(msg, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeTextDelta(b *testing.B) {
	m := &TextDelta{Type: TypeTextDelta, Turn: 3, Delta: "Hello there, "}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSessionStartToolsOmitted: an empty list of tools is sent (on a
// resume it removes the session's), no list is not (it keeps them).
func TestSessionStartToolsOmitted(t *testing.T) {
	for _, tc := range []struct {
		tools []Tool
		want  string
	}{
		{nil, `{"type":"session.start"}`},
		{[]Tool{}, `{"type":"session.start","tools":[]}`},
	} {
		b, err := Encode(&SessionStart{Type: TypeSessionStart, Tools: tc.tools})
		if err != nil || string(b) != tc.want {
			t.Errorf("tools %#v: %s %v, want %s", tc.tools, b, err, tc.want)
		}
	}
}
