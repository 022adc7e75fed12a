//go:build e2e && interop

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/g711"
	"github.com/voicegate/voicegate/audio/resample"
)

// realtimeKey is the API key the interop gateways accept: each client must
// present it its own way (a bearer header, or a subprotocol).
const realtimeKey = "vg-interop-0123456789abcdef"

// startRealtimeGateway runs the offline default stack with an API key, over
// TLS when withTLS (the openai SDK dials wss:// only); caPEM is then the
// CA's PEM file, for NODE_EXTRA_CA_CERTS.
func startRealtimeGateway(t *testing.T, withTLS bool) (g *gatewayProc, caPEM string) {
	t.Helper()
	if !withTLS {
		return startGateway(t, fmt.Sprintf("server: {api_keys: [%q]}\n", realtimeKey)), ""
	}
	caPEM, cert, key := newTestCA(t)
	cfg := fmt.Sprintf("server: {api_keys: [%q], tls_cert: %q, tls_key: %q}\n", realtimeKey, cert, key)
	return startGatewayTLS(t, cfg, caPEM), caPEM
}

// realtimeURL is the gateway's /v1/realtime as ws:// or wss://.
func realtimeURL(g *gatewayProc) string {
	return "ws" + strings.TrimPrefix(g.URL("/v1/realtime"), "http")
}

// realtimeEnv is what every client script is given.
func realtimeEnv(g *gatewayProc, caPEM string) map[string]string {
	env := map[string]string{
		"VG_REALTIME_URL": realtimeURL(g),
		"VG_BASE_URL":     g.URL("/v1"),
		"VG_API_KEY":      realtimeKey,
	}
	if caPEM != "" {
		env["NODE_EXTRA_CA_CERTS"] = caPEM
	}
	return env
}

// utterance is speech a client script says: text, written for the
// environment variable env as 24 kHz PCM16, or 8 kHz μ-law when muLaw.
type utterance struct {
	env, text string
	muLaw     bool
}

// runRealtime starts a gateway (over TLS when withTLS), makes the speech,
// runs the client script against it and fails for anything the script found
// malformed or an error it did not provoke.
func runRealtime(t *testing.T, withTLS bool, script string, speech []utterance, nodeFlags ...string) (*gatewayProc, clientFacts) {
	t.Helper()
	g, ca := startRealtimeGateway(t, withTLS)
	env := realtimeEnv(g, ca)
	dir := t.TempDir()
	for i, u := range speech {
		name := fmt.Sprintf("said%d", i+1)
		if u.muLaw {
			env[u.env] = realtimeSpeechMuLaw(t, dir, name, u.text)
		} else {
			env[u.env] = realtimeSpeech(t, dir, name, u.text)
		}
	}
	facts := runClient(t, g, script, env, nodeFlags...)
	facts.checkClean(t)
	return g, facts
}

// realtimeSpeech says text with flite and writes it as raw 24 kHz mono
// s16le (audio/pcm), the Realtime API's default input format.
func realtimeSpeech(t *testing.T, dir, name, text string) string {
	t.Helper()
	pcm := resampleSpeech(t, loadWAV(t, flite(t, dir, name, text)), 24000)
	return writeSpeech(t, dir, name+".pcm", audio.EncodePCM16(nil, pcm))
}

// realtimeSpeechMuLaw says text with flite and writes it as 8 kHz μ-law
// (audio/pcmu; the beta API's g711_ulaw).
func realtimeSpeechMuLaw(t *testing.T, dir, name, text string) string {
	t.Helper()
	pcm := resampleSpeech(t, loadWAV(t, flite(t, dir, name, text)), 8000)
	return writeSpeech(t, dir, name+".ulaw", g711.EncodeMuLaw(nil, pcm))
}

// resampleSpeech converts flite's 16 kHz speech to rate.
func resampleSpeech(t *testing.T, pcm16k []int16, rate int) []int16 {
	t.Helper()
	r, err := resample.New(16000, rate)
	if err != nil {
		t.Fatal(err)
	}
	return r.Flush(r.Process(nil, pcm16k))
}

// writeSpeech writes b as dir/name and returns its path.
func writeSpeech(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clientFacts are the JSON lines a client script printed, in order.
type clientFacts []clientFact

type clientFact struct {
	Name string
	Raw  json.RawMessage
}

// all returns the facts called name.
func (f clientFacts) all(name string) []clientFact {
	var out []clientFact
	for _, x := range f {
		if x.Name == name {
			out = append(out, x)
		}
	}
	return out
}

// one decodes the i-th fact called name into v, failing when there is none.
func (f clientFacts) one(t *testing.T, name string, i int, v any) {
	t.Helper()
	all := f.all(name)
	if i >= len(all) {
		t.Fatalf("the client reported %d %q facts, want at least %d; it printed:\n%s", len(all), name, i+1, f)
	}
	if err := json.Unmarshal(all[i].Raw, v); err != nil {
		t.Fatalf("%s fact %s: %v", name, all[i].Raw, err)
	}
}

func (f clientFacts) String() string {
	var b strings.Builder
	for _, x := range f {
		b.Write(x.Raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// checkClean fails for every server event the client found malformed
// (fields its schemas need) and every error event it did not provoke.
func (f clientFacts) checkClean(t *testing.T) {
	t.Helper()
	seen := map[string]bool{}
	for _, x := range f.all("shape") {
		var s struct{ Problem string }
		json.Unmarshal(x.Raw, &s)
		if !seen[s.Problem] {
			seen[s.Problem] = true
			t.Errorf("malformed server event: %s", s.Problem)
		}
	}
	for _, x := range f.all("error") {
		t.Errorf("the client got an error it did not provoke: %s", x.Raw)
	}
}

// runClient runs the Node script e2e/realtime/<script> with env added to the
// environment and returns what it reported. A script that reports "fail",
// exits non-zero or never reports "done" fails the test with its output and
// the gateway's log.
func runClient(t *testing.T, g *gatewayProc, script string, env map[string]string, nodeFlags ...string) clientFacts {
	t.Helper()
	need(t, "node")
	if _, err := os.Stat(filepath.Join("node_modules", ".package-lock.json")); err != nil {
		t.Fatalf("the npm clients are not installed (e2e/node_modules): make test-interop runs npm ci --prefix e2e first")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append(nodeFlags, filepath.Join("realtime", script))...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var facts clientFacts
	var other []string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		var head struct{ Fact string }
		if json.Unmarshal(line, &head) != nil || head.Fact == "" {
			other = append(other, string(line))
			continue
		}
		facts = append(facts, clientFact{Name: head.Fact, Raw: append(json.RawMessage(nil), line...)})
	}
	werr := cmd.Wait()
	t.Logf("%s ran %.1fs and reported:\n%s", script, time.Since(start).Seconds(), facts)
	failed := facts.all("fail")
	if werr != nil || len(failed) > 0 || len(facts.all("done")) == 0 {
		var why string
		for _, f := range failed {
			var v struct{ Error string }
			json.Unmarshal(f.Raw, &v)
			why += v.Error + "\n"
		}
		t.Fatalf("%s failed (%v):\n%sfacts:\n%sother stdout:\n%s\nstderr:\n%s\ngateway log (tail):\n%s",
			script, werr, why, facts, strings.Join(other, "\n"), stderr.String(), tail(g.Log(), 40))
	}
	return facts
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// checkHeard fails unless hyp is ref with at most maxErrors word errors.
func checkHeard(t *testing.T, what, ref, hyp string, maxErrors int) {
	t.Helper()
	if e, n := wordErrors(ref, hyp); e > maxErrors {
		t.Errorf("%s: %d of %d words wrong: said %q, the client was told %q", what, e, n, ref, hyp)
	}
}

// checkEcho fails unless reply is the echo model's answer to heard.
func checkEcho(t *testing.T, what, heard, reply string) {
	t.Helper()
	if e, _ := wordErrors("you said "+heard, reply); e != 0 || heard == "" {
		t.Errorf("%s: reply %q, want the echo of what was heard: %q", what, reply, "You said: "+heard+".")
	}
}

// minWordMs is the least audio a reply word may take: flite's slt voice
// takes about 300 ms a word.
const minWordMs = 150

// checkSpoken fails unless n bytes of 24 kHz PCM16 reply audio are long
// enough to say text.
func checkSpoken(t *testing.T, what, text string, n int) {
	t.Helper()
	words := len(strings.Fields(text))
	ms := n / 48
	if words == 0 || ms < minWordMs*words || n%2 != 0 {
		t.Errorf("%s: %d bytes of reply audio (%d ms) for %q (%d words), want at least %d ms of whole samples", what, n, ms, text, words, minWordMs*words)
	}
}

// TestRealtimeAgentsSDK: @openai/agents-realtime's RealtimeSession over its
// WebSocket transport (ws://, the API key as a bearer header) holds two
// spoken turns, the second a tool call: its events report both transcripts
// and replies, it counts reply audio, its get_weather tool runs once with
// {"city": "paris"}, and the reply to the tool's result is spoken. Then it
// talks over a reply: that response ends cancelled, the client's
// conversation.item.truncate is answered, and the new words are answered.
func TestRealtimeAgentsSDK(t *testing.T) {
	said := []string{
		"please turn on the kitchen lights",
		"what is the weather in paris",
		"play some music in the living room",
		"what is the capital of france",
	}
	var speech []utterance
	for i, s := range said {
		speech = append(speech, utterance{env: fmt.Sprintf("VG_TURN%d", i+1), text: s})
	}
	_, facts := runRealtime(t, false, "agents.mjs", speech)
	said1, said2 := said[0], said[1]

	type turn struct {
		User       *string
		Reply      string
		Status     string
		AudioBytes int `json:"audio_bytes"`
		Responses  []struct{ Text, Status string }
	}
	var t1, t2 turn
	facts.one(t, "turn", 0, &t1)
	facts.one(t, "turn", 1, &t2)
	if t1.User == nil || t2.User == nil {
		t.Fatalf("the session's history has no transcript for a spoken turn: %+v %+v\n%s", t1, t2, facts)
	}
	checkHeard(t, "turn 1", said1, *t1.User, 1)
	checkEcho(t, "turn 1", *t1.User, t1.Reply)
	checkSpoken(t, "turn 1", t1.Reply, t1.AudioBytes)
	if t1.Status != "completed" {
		t.Errorf("turn 1: response.done status %q, want completed", t1.Status)
	}
	checkHeard(t, "turn 2", said2, *t2.User, 0)

	var tool struct {
		Runs        int
		Args        []map[string]string
		ServerCalls []struct{ Name, Arguments string } `json:"server_calls"`
	}
	facts.one(t, "tool", 0, &tool)
	if tool.Runs != 1 || len(tool.Args) != 1 || tool.Args[0]["city"] != "paris" {
		t.Errorf("get_weather ran %d times with %v, want once with {city: paris}; the server asked for %+v", tool.Runs, tool.Args, tool.ServerCalls)
	}
	if len(tool.ServerCalls) != 1 || tool.ServerCalls[0].Name != "get_weather" {
		t.Errorf("function_call items: %+v, want one get_weather", tool.ServerCalls)
	}
	// The turn's responses: the function call (no speech), then the spoken
	// reply to the tool's result.
	if len(t2.Responses) != 2 || t2.Responses[0].Text != "" || t2.Responses[0].Status != "completed" {
		t.Errorf("turn 2: responses %+v, want the tool call's (no text, completed) then one spoken reply", t2.Responses)
	}
	if !strings.Contains(strings.ToLower(t2.Reply), "sunny in paris") {
		t.Errorf("turn 2: the reply after the tool result is %q, want it to speak the result %q", t2.Reply, "sunny in paris")
	}
	checkSpoken(t, "turn 2 (after the tool)", t2.Reply, t2.AudioBytes)

	var b struct {
		Interrupted struct {
			User       *string
			Status     string
			ItemID     string `json:"item_id"`
			AudioBytes int    `json:"audio_bytes"`
		}
		AudioInterrupted int      `json:"audio_interrupted"`
		ClientSent       []string `json:"client_sent"`
		Truncate         *struct {
			ItemID     string `json:"item_id"`
			AudioEndMs int    `json:"audio_end_ms"`
		}
		Truncated *struct {
			ItemID     string `json:"item_id"`
			AudioEndMs int    `json:"audio_end_ms"`
		}
		User       *string
		Reply      string
		Status     string
		AudioBytes int `json:"audio_bytes"`
	}
	facts.one(t, "bargein", 0, &b)
	if b.Interrupted.Status != "cancelled" || b.AudioInterrupted == 0 {
		t.Errorf("barge-in: the reply talked over ended %q (audio_interrupted %d times), want cancelled and the client told", b.Interrupted.Status, b.AudioInterrupted)
	}
	if b.Truncate == nil || b.Truncate.ItemID != b.Interrupted.ItemID {
		t.Errorf("barge-in: the client sent %v, want a conversation.item.truncate of %s", b.ClientSent, b.Interrupted.ItemID)
	} else if b.Truncated == nil || b.Truncated.AudioEndMs != b.Truncate.AudioEndMs {
		t.Errorf("barge-in: conversation.item.truncate{audio_end_ms %d} got %+v, want conversation.item.truncated at that time", b.Truncate.AudioEndMs, b.Truncated)
	}
	if b.User == nil {
		t.Fatalf("barge-in: no transcript of the words that cut in")
	}
	checkHeard(t, "barge-in", said[3], *b.User, 1)
	checkEcho(t, "barge-in", *b.User, b.Reply)
	checkSpoken(t, "barge-in", b.Reply, b.AudioBytes)

	var hist struct {
		Items []struct {
			Type, Role, Name, Status string
		}
	}
	facts.one(t, "history", 0, &hist)
	var kinds []string
	for _, it := range hist.Items {
		kinds = append(kinds, it.Type+":"+it.Role+it.Name)
	}
	want := []string{
		"message:user", "message:assistant", "message:user", "function_call:get_weather", "message:assistant",
		"message:user", "message:assistant", "message:user", "message:assistant",
	}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("the session's history is %v, want %v", kinds, want)
	} else if st := hist.Items[6].Status; st != "incomplete" {
		t.Errorf("the reply talked over is %q in the history, want incomplete", st)
	}
}

// TestRealtimeOpenAISDK: the openai Node SDK's Realtime WebSocket client
// (wss:// with the test CA, GA names) holds a spoken turn, and a
// response.cancel sent at the first audio of the next reply ends that
// response with status "cancelled" and leaves an item truncated to the
// audio received.
func TestRealtimeOpenAISDK(t *testing.T) {
	const said1, said2 = "what time is it in london", "tell me a joke about computers"
	g, facts := runRealtime(t, true, "openai.mjs", []utterance{{env: "VG_TURN1", text: said1}, {env: "VG_TURN2", text: said2}})

	var url struct{ URL string }
	facts.one(t, "url", 0, &url)
	if want := realtimeURL(g) + "?model=gpt-realtime"; url.URL != want {
		t.Errorf("the SDK dialled %s, want %s", url.URL, want)
	}
	var sess struct {
		Type        string
		InputFormat map[string]any `json:"input_format"`
	}
	facts.one(t, "session", 0, &sess)
	if sess.Type != "realtime" || sess.InputFormat["type"] != "audio/pcm" || sess.InputFormat["rate"] != 24000.0 {
		t.Errorf("session.updated: type %q, input format %v; want realtime, audio/pcm at 24000", sess.Type, sess.InputFormat)
	}

	var t1 struct {
		Types      []string
		User       *string
		Reply      *string
		Status     string
		AudioBytes int `json:"audio_bytes"`
	}
	facts.one(t, "turn", 0, &t1)
	if t1.User == nil || t1.Reply == nil {
		t.Fatalf("turn 1 has no transcript (user %v) or no reply transcript (%v); events: %v", t1.User, t1.Reply, t1.Types)
	}
	checkHeard(t, "turn 1", said1, *t1.User, 1)
	checkEcho(t, "turn 1", *t1.User, *t1.Reply)
	checkSpoken(t, "turn 1", *t1.Reply, t1.AudioBytes)
	if t1.Status != "completed" {
		t.Errorf("turn 1: response.done status %q, want completed", t1.Status)
	}
	checkTypes(t, "turn 1", t1.Types, []string{
		"input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
		"conversation.item.added", "conversation.item.done", "conversation.item.input_audio_transcription.completed",
		"response.created", "response.output_item.added", "response.content_part.added",
		"response.output_audio.delta", "response.output_audio_transcript.delta", "response.output_audio.done",
		"response.output_audio_transcript.done", "response.content_part.done", "response.output_item.done", "response.done",
	}, betaOnly)

	var c struct {
		Status          string
		Output          []map[string]any
		AtCancel        int    `json:"audio_bytes_at_cancel"`
		Total           int    `json:"audio_bytes_total"`
		DeltasAfterDone int    `json:"deltas_after_done"`
		PlayedMs        int    `json:"played_ms"`
		ItemID          string `json:"item_id"`
		Truncated       map[string]any
		Retrieved       map[string]any
	}
	facts.one(t, "cancel", 0, &c)
	if c.Status != "cancelled" {
		t.Errorf("response.cancel mid-reply: response.done status %q, want cancelled", c.Status)
	}
	if full := 48 * minWordMs * len(strings.Fields("you said "+said2)); c.AtCancel == 0 || c.Total >= full {
		t.Errorf("cancel: %d bytes of audio at the cancel, %d in all: want the reply cut short (under %d)", c.AtCancel, c.Total, full)
	}
	if c.DeltasAfterDone != 0 {
		t.Errorf("cancel: %d deltas of the cancelled response after its response.done", c.DeltasAfterDone)
	}
	if c.Truncated["type"] != "conversation.item.truncated" || c.Truncated["item_id"] != c.ItemID || c.Truncated["audio_end_ms"] != float64(c.PlayedMs) {
		t.Errorf("conversation.item.truncate{item_id %s, audio_end_ms %d}: got %v, want conversation.item.truncated for that item and time", c.ItemID, c.PlayedMs, c.Truncated)
	}
	if c.Retrieved["type"] != "conversation.item.retrieved" {
		t.Errorf("conversation.item.retrieve of the truncated item: got %v", c.Retrieved)
	} else if item, _ := c.Retrieved["item"].(map[string]any); item["id"] != c.ItemID || item["status"] != "incomplete" {
		t.Errorf("the cancelled, truncated item: %v, want id %s, status incomplete", item, c.ItemID)
	}
}

// betaOnly are event names only a beta client may see.
var betaOnly = []string{"conversation.item.created", "response.audio.delta", "response.audio_transcript.delta", "response.audio.done", "response.text.delta"}

// gaOnly are event names only a GA client may see.
var gaOnly = []string{"conversation.item.added", "conversation.item.done", "response.output_audio.delta", "response.output_audio_transcript.delta", "response.output_audio.done", "response.output_text.delta"}

// checkTypes fails unless every name in want was seen and none in banned.
func checkTypes(t *testing.T, what string, seen, want, banned []string) {
	t.Helper()
	has := map[string]bool{}
	for _, s := range seen {
		has[s] = true
	}
	for _, w := range want {
		if !has[w] {
			t.Errorf("%s: no %s event; saw %v", what, w, seen)
		}
	}
	for _, b := range banned {
		if has[b] {
			t.Errorf("%s: a %s event, a name of the other API version; saw %v", what, b, seen)
		}
	}
}

// TestRealtimeBetaClient: the openai SDK's beta client (OpenAI-Beta:
// realtime=v1) holds a spoken turn in beta event names, then switches its
// input to μ-law with a beta session.update and holds another.
func TestRealtimeBetaClient(t *testing.T) {
	const said1, said2 = "what is the capital of france", "please turn on the kitchen lights"
	_, facts := runRealtime(t, true, "beta.mjs", []utterance{{env: "VG_TURN1", text: said1}, {env: "VG_TURN_ULAW", text: said2, muLaw: true}})

	var created struct {
		SessionKeys []string `json:"session_keys"`
	}
	facts.one(t, "created", 0, &created)
	if !slices.Contains(created.SessionKeys, "input_audio_format") || slices.Contains(created.SessionKeys, "audio") {
		t.Errorf("beta session.created's session has %v, want the beta shape (input_audio_format, no audio)", created.SessionKeys)
	}
	type betaTurn struct {
		In         string `json:"input_audio_format"`
		Out        string `json:"output_audio_format"`
		SaidMs     int    `json:"said_ms"`
		SpeechMs   *int   `json:"speech_ms"`
		Types      []string
		User       *string
		Reply      *string
		Status     string
		AudioBytes int `json:"audio_bytes"`
		Items      []struct {
			Role    string
			Content []string
		}
		Parts []string
	}
	for i, want := range []struct {
		format, said string
		maxErrors    int
	}{
		{"pcm16", said1, 1},
		// Telephone speech: pocketsphinx's wideband model, its cepstral mean
		// still set for wideband, mishears the first narrowband utterance
		// it decodes ("what" for the whole sentence) — the same with 8 kHz
		// speech sent as 24 kHz PCM. What this turn shows is the μ-law path:
		// the format switch, speech found where it is, a transcript, a reply.
		{"g711_ulaw", said2, -1},
	} {
		var turn betaTurn
		facts.one(t, "turn", i, &turn)
		what := fmt.Sprintf("beta turn %d (%s)", i+1, want.format)
		if turn.In != want.format || turn.Out != "pcm16" {
			t.Errorf("%s: session.updated input_audio_format %q, output_audio_format %q; want %s, pcm16", what, turn.In, turn.Out, want.format)
		}
		if turn.User == nil || *turn.User == "" || turn.Reply == nil {
			t.Fatalf("%s has no transcript (user %v) or no reply transcript (%v); events: %v", what, turn.User, turn.Reply, turn.Types)
		}
		if turn.SpeechMs == nil || *turn.SpeechMs < turn.SaidMs*6/10 || *turn.SpeechMs > turn.SaidMs*13/10 {
			t.Errorf("%s: speech_started..speech_stopped spans %v ms of the %d ms said, want 60-130 %%", what, turn.SpeechMs, turn.SaidMs)
		}
		if want.maxErrors >= 0 {
			checkHeard(t, what, want.said, *turn.User, want.maxErrors)
		}
		checkEcho(t, what, *turn.User, *turn.Reply)
		checkSpoken(t, what, *turn.Reply, turn.AudioBytes)
		if turn.Status != "completed" {
			t.Errorf("%s: response.done status %q, want completed", what, turn.Status)
		}
		checkTypes(t, what, turn.Types, []string{
			"input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
			"conversation.item.created", "conversation.item.input_audio_transcription.completed",
			"response.created", "response.output_item.added", "response.content_part.added",
			"response.audio.delta", "response.audio_transcript.delta", "response.audio.done",
			"response.audio_transcript.done", "response.output_item.done", "response.done",
		}, gaOnly)
		for _, p := range turn.Parts {
			if p != "audio" {
				t.Errorf("%s: response.content_part.added part.type %q, want audio", what, p)
			}
		}
		for _, it := range turn.Items {
			for _, c := range it.Content {
				if c == "output_audio" || c == "output_text" {
					t.Errorf("%s: conversation.item.created (%s) has content type %s, a GA name (beta: audio, text)", what, it.Role, c)
				}
			}
		}
	}
}

// TestRealtimeBadInput: unknown event types, malformed JSON, an append over
// 15 MiB, audio that is not base64 and an unsupported audio format each get
// an error event of type invalid_request_error naming the client's event_id,
// and the connection goes on.
func TestRealtimeBadInput(t *testing.T) {
	_, facts := runRealtime(t, true, "badinput.mjs", nil)
	cases := facts.all("case")
	if len(cases) != 6 {
		t.Errorf("%d bad-input cases ran, want 6:\n%s", len(cases), facts)
	}
	for _, x := range cases {
		var c struct {
			Name        string
			SentEventID *string `json:"sent_event_id"`
			Error       *struct {
				Type, Code, Message string
				EventID             *string `json:"event_id"`
			}
			Closed any
			Alive  bool
			After  *string
		}
		json.Unmarshal(x.Raw, &c)
		t.Run(strings.ReplaceAll(c.Name, " ", "_"), func(t *testing.T) {
			switch {
			case c.Closed != nil:
				t.Fatalf("the connection closed (%v) instead of an error event", c.Closed)
			case c.Error == nil:
				t.Fatalf("no error event: %s", x.Raw)
			}
			if c.Error.Type != "invalid_request_error" || c.Error.Code == "" || c.Error.Message == "" {
				t.Errorf("error %+v, want type invalid_request_error with a code and a message", *c.Error)
			}
			if c.SentEventID != nil && (c.Error.EventID == nil || *c.Error.EventID != *c.SentEventID) {
				t.Errorf("error.event_id %v, want the client's %q", c.Error.EventID, *c.SentEventID)
			}
			if !c.Alive {
				t.Errorf("after the error, input_audio_buffer.clear got %v, want input_audio_buffer.cleared", c.After)
			}
		})
	}
	var after struct {
		Type        string
		InputFormat map[string]any `json:"input_format"`
	}
	facts.one(t, "after", 0, &after)
	if after.Type != "session.updated" || after.InputFormat["type"] != "audio/pcm" {
		t.Errorf("a valid session.update after the bad input: %+v, want session.updated keeping audio/pcm", after)
	}
}

// TestRealtimeBrowserSubprotocols: a standard WebSocket (the browser's API)
// authenticates with the subprotocols realtime + openai-insecure-api-key.KEY
// (and openai-beta.realtime-v1 for beta names), the server chooses
// "realtime", a wrong key is refused; a client secret minted by the openai
// SDK's REST client opens one connection, and the SDK's browser client
// connects with another.
func TestRealtimeBrowserSubprotocols(t *testing.T) {
	_, facts := runRealtime(t, true, "browser.mjs", nil, "--experimental-websocket", "--no-warnings")
	type dial struct {
		Name         string
		Protocol     string
		First        string
		SessionKeys  []string `json:"session_keys"`
		Instructions *string
	}
	dials := map[string]dial{}
	for _, x := range facts.all("dial") {
		var d dial
		json.Unmarshal(x.Raw, &d)
		dials[d.Name] = d
	}
	for _, name := range []string{"browser", "browser beta", "client secret", "OpenAIRealtimeWebSocket"} {
		d := dials[name]
		if d.Protocol != "realtime" || d.First != "session.created" {
			t.Errorf("%s: subprotocol %q, first event %q; want realtime, session.created", name, d.Protocol, d.First)
		}
	}
	if d := dials["browser beta"]; !slices.Contains(d.SessionKeys, "modalities") {
		t.Errorf("browser beta: session.created's session has %v, want the beta shape (modalities)", d.SessionKeys)
	}
	for _, name := range []string{"wrong key", "client secret again"} {
		if d := dials[name]; d.First != "refused" {
			t.Errorf("%s: first event %q, want the handshake refused", name, d.First)
		}
	}
	var secret struct {
		Prefix      string
		TTL         int    `json:"ttl_s"`
		SessionType string `json:"session_type"`
	}
	facts.one(t, "secret", 0, &secret)
	if secret.Prefix != "ek_" || secret.TTL <= 0 || secret.SessionType != "realtime" {
		t.Errorf("client secret: %+v, want an ek_ key that has not expired, for a realtime session", secret)
	}
	if in := dials["client secret"].Instructions; in == nil || *in != "Be brief." {
		t.Errorf("the session opened with a client secret has instructions %v, want the secret's %q", in, "Be brief.")
	}
}
