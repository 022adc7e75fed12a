//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/wav"
)

// The fake microphone's script. Chrome loops the file, so the conversation
// goes on by itself: sentence one, a pause long enough for the whole reply
// to be played, sentence two, the same pause, and again from the top.
var browserScript = []string{
	"what is the weather like today",
	"and what about tomorrow",
}

const browserPause = 4 * time.Second

// TestBrowser drives the bundled page in headless Chromium whose microphone
// is a flite-generated WAV (flags measured in shared/RECIPES.md), against the
// real voicegate binary with its offline default (pocketsphinx, echo LLM,
// flite). It asserts that the page connects and listens, that the spoken
// words appear as a transcript and the echo reply as text, that the reply
// was actually played (non-zero samples counted by the page's playback
// worklet), that the latency waterfall is filled in, that a dropped socket
// reconnects and resumes the conversation (history redrawn, resumed:true, a
// new turn works), that the mute button and typed input (Enter) work, that
// speaking over a reply stops its playback at once and drops its queue
// (barge-in), and that the page wrote no error to the console. With
// VOICEGATE_SCREENSHOT=1 it also writes docs/screenshot.png, taken while the
// assistant answers the second turn. Run it with make test-browser, or
// go test -tags e2e -run Browser -v ./e2e/.
func TestBrowser(t *testing.T) {
	need(t, "chromium", "flite")
	chromium, _ := exec.LookPath("chromium")
	dir := t.TempDir()
	mic := browserMicWAV(t, dir)
	g := startGateway(t, "")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bctx, console := openBrowser(t, ctx, chromium, dir, mic)

	p := &browserPage{t: t, ctx: bctx, g: g, console: console}
	start := time.Now()
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(g.URL("/"))); err != nil {
		t.Fatalf("loading the page: %v", err)
	}

	// Connected, microphone on, audio flowing. The waits below read latches
	// (counts, per-turn records), never a state that may pass between two
	// polls: the page listens for only a few hundred milliseconds before the
	// looped speech starts.
	p.wait("the page to connect and listen", 15*time.Second,
		`voicegate.entered.listening > 0 && voicegate.micError === null && voicegate.counters.framesSent > 0`)
	t.Logf("listening %v after navigation; context rate %v Hz", time.Since(start).Round(time.Millisecond),
		p.eval(`voicegate.session.contextRate`))

	// Turn 1: the words in the DOM, the reply's text, its sound, the waterfall.
	p.wait("the transcript in the DOM", 15*time.Second,
		`[...document.querySelectorAll('#conversation .msg.user:not(.partial):not(.pending) .text')].some(e => /weather/i.test(e.textContent))`)
	p.wait("the reply text", 10*time.Second,
		`[...document.querySelectorAll('#conversation .msg.assistant .text')].some(e => /you said:.*weather/i.test(e.textContent))`)
	p.wait("reply audio to be played", 10*time.Second,
		`voicegate.counters.nonZeroSamplesPlayed > 0.3 * voicegate.session.contextRate`)
	p.wait("the latency waterfall", 10*time.Second,
		`voicegate.lastLatency && voicegate.lastLatency.first_sound_ms > 0 && `+
			`[...document.querySelectorAll('#waterfall li')].every(li => li.querySelector('.wf-val').textContent !== '—')`)
	var lat map[string]any
	p.evalInto(`voicegate.lastLatency`, &lat)
	t.Logf("turn %v latency (ms after end of speech): %s", lat["turn"], browserLatencyLine(lat))
	if fs, ok := lat["first_sound_ms"].(float64); !ok || fs < lat["first_audio_sent_ms"].(float64) {
		t.Errorf("first sound played (%v ms) should come after first audio sent (%v ms)", lat["first_sound_ms"], lat["first_audio_sent_ms"])
	}

	// Turn 2, heard through the loop: the screenshot while the assistant
	// talks (its first audible samples have just been reported).
	var second int
	p.waitInto("the assistant to answer the second sentence", 20*time.Second,
		`(() => { const a = voicegate.messages.filter(m => m.role === 'assistant');
		  const n = a.length >= 2 && a[1].turn, pb = n && voicegate.playback[n];
		  return pb && pb.audible > 0 && voicegate.entered['assistant-speaking'] >= 2 && n })()`, &second)
	if os.Getenv("VOICEGATE_SCREENSHOT") == "1" {
		p.screenshot(filepath.Join("..", "docs", "screenshot.png"))
	}
	// Played to its end, and the page went back to listening (once on
	// connecting and after each of the two replies).
	p.wait("the second reply to finish", 15*time.Second, fmt.Sprintf(
		`(voicegate.playback[%d] || {}).drained && voicegate.entered.listening >= 3`, second))

	// A dropped socket: the page reconnects, resumes and redraws the history.
	var before struct {
		Messages []struct {
			Role string
			Text string
			Turn *int
		}
		Sessions int
	}
	p.evalInto(`({messages: voicegate.messages, sessions: voicegate.counters.sessions})`, &before)
	lastTurn := 0
	for _, m := range before.Messages {
		if m.Turn != nil {
			lastTurn = max(lastTurn, *m.Turn)
		}
	}
	dropped := time.Now()
	p.run(`voicegate.dropSocket()`)
	p.wait("the session to resume", 10*time.Second,
		fmt.Sprintf(`voicegate.counters.sessions > %d && voicegate.session.resumed && voicegate.state !== 'reconnecting'`, before.Sessions))
	t.Logf("resumed %v after the drop", time.Since(dropped).Round(time.Millisecond))
	var after []struct{ Role, Text string }
	p.evalInto(`voicegate.messages`, &after)
	if len(after) < 4 {
		t.Errorf("after resume the page shows %d messages, want the 4 of the first two turns: %+v", len(after), after)
	}
	for i := 0; i < len(after) && i < 2; i++ {
		if after[i].Role != before.Messages[i].Role || after[i].Text != before.Messages[i].Text {
			t.Errorf("after resume, message %d is %+v, was %+v", i, after[i], before.Messages[i])
		}
	}
	// The redrawn history carries no turn numbers (session.started's history
	// has none). A resumed session's turn numbers go on where they stopped
	// (pipeline.Conversation), so the new turn is numbered above the last one
	// before the drop, and its transcript and reply carry that number.
	p.wait("a new spoken turn after the reconnect", 25*time.Second, fmt.Sprintf(
		`(() => { const ms = voicegate.messages.filter(m => m.turn > %d);
		  return ms.some(a => a.role === 'assistant' && /you said:/i.test(a.text) &&
		    ms.some(u => u.role === 'user' && u.turn === a.turn && /weather|tomorrow/i.test(u.text))) })()`, lastTurn))

	// Typed input (Enter sends) while the microphone is muted, then a
	// barge-in: unmuted, the loop's next sentence interrupts the long reply
	// (~8.8 s of speech; the loop speaks at least every 6 s). Playback must
	// stop and its queue be dropped: no audible sample is played after the
	// barge-in.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("mute"))); err != nil {
		t.Fatalf("muting: %v", err)
	}
	p.wait("the mute button to be pressed", 5*time.Second,
		`document.getElementById('mute').getAttribute('aria-pressed') === 'true'`)
	const typed = "thanks, and now please tell me a long story about the sea, the mountains and the stars, " +
		"and about the little town by the river where it all begins"
	if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.ID("text-input"), typed+kb.Enter)); err != nil {
		t.Fatalf("typing: %v", err)
	}
	var typedTurn int
	p.waitInto("the reply to the typed message", 10*time.Second, fmt.Sprintf(
		`(voicegate.messages.find(m => m.role === 'assistant' && m.text.toLowerCase().includes(%q)) || {}).turn`, typed), &typedTurn)
	p.wait("the typed reply to be heard", 10*time.Second, fmt.Sprintf(
		`(voicegate.playback[%d] || {}).audible > 0 && voicegate.state === 'assistant-speaking'`, typedTurn))
	var mark struct{ BargeIns, UserSpeaking float64 }
	p.evalInto(`({bargeIns: voicegate.counters.bargeIns, userSpeaking: voicegate.entered['user-speaking'] || 0})`, &mark)
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("mute"))); err != nil {
		t.Fatalf("unmuting: %v", err)
	}
	// The barge-in is counted when the page stops the playback; the
	// worklet has applied the flush once its reports count every flush the
	// page posted. That report is read in the same evaluation, and the
	// reply's audible samples are per turn, so the next reply cannot blur
	// the count.
	var cut struct{ Audible, QueuedMs, Reports float64 }
	p.waitInto("the spoken barge-in", 10*time.Second, fmt.Sprintf(
		`(() => { const c = voicegate.counters, pb = voicegate.playback[%d];
		  return pb && c.bargeIns > %v && (voicegate.entered['user-speaking'] || 0) > %v && c.flushes === c.flushesSent &&
		    {audible: pb.audible, queuedMs: pb.queuedMs, reports: c.playbackReports} })()`,
		typedTurn, mark.BargeIns, mark.UserSpeaking), &cut)
	if cut.QueuedMs != 0 {
		t.Errorf("%v ms of audio still queued after the barge-in", cut.QueuedMs)
	}
	p.wait("the interrupted reply to be marked", 10*time.Second,
		`[...document.querySelectorAll('#conversation .msg.assistant.interrupted .meta')].some(e => e.textContent === 'Interrupted')`)
	// Four more reports: 400 ms of the audio clock after the flush.
	p.wait("the playback reports after the barge-in", 5*time.Second,
		fmt.Sprintf(`voicegate.counters.playbackReports >= %v`, cut.Reports+4))
	if played := p.eval(fmt.Sprintf(`voicegate.playback[%d].audible`, typedTurn)).(float64); played != cut.Audible {
		t.Errorf("%v audible samples of the cut reply were played after the barge-in", played-cut.Audible)
	}

	var c map[string]any
	p.evalInto(`voicegate.counters`, &c)
	t.Logf("page counters: %s", browserJSON(c))
	t.Logf("heartbeat RTT %v ms; test took %v", p.eval(`voicegate.rttMs`), time.Since(start).Round(time.Millisecond))
	if errs := console.errors(); len(errs) > 0 {
		t.Errorf("the page logged %d console error(s):\n%s", len(errs), strings.Join(errs, "\n"))
	}
}

// openBrowser starts headless Chromium with a fake microphone (fed from
// the WAV file mic, looped; "" for the default fake device), returning its
// context and a subscription to its console, both started before any page
// loads so that nothing the page logs is missed. The test's cleanup closes
// the browser.
func openBrowser(t *testing.T, ctx context.Context, chromium, dir, mic string) (context.Context, *browserConsole) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.WindowSize(1280, 800),
	}
	if mic != "" {
		opts = append(opts, chromedp.Flag("use-file-for-fake-audio-capture", mic))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	console := &browserConsole{}
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		console.collect(chromedp.Console(bctx))
	}()
	t.Cleanup(func() {
		cancelBrowser() // ends the console subscription
		<-collected
		cancelAlloc()
	})
	return bctx, console
}

// browserMicWAV writes the looped microphone input: the script spoken by
// flite's slt voice, each sentence followed by browserPause of silence.
func browserMicWAV(t *testing.T, dir string) string {
	t.Helper()
	var samples []int16
	for i, s := range browserScript {
		samples = append(samples, loadWAV(t, flite(t, dir, fmt.Sprintf("sentence%d", i), s))...)
		samples = append(samples, make([]int16, audio.Mono16k.Samples(browserPause))...)
	}
	path := filepath.Join(dir, "mic.wav")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := wav.Encode(f, audio.Mono16k, samples); err != nil {
		t.Fatal(err)
	}
	return path
}

// browserPage runs JavaScript in the page and fails the test with the
// page's and the server's state when a wait times out.
type browserPage struct {
	t       *testing.T
	ctx     context.Context
	g       *gatewayProc
	console *browserConsole
}

// wait polls expr in the page until it is truthy.
func (p *browserPage) wait(what string, timeout time.Duration, expr string) {
	p.t.Helper()
	p.waitInto(what, timeout, expr, nil)
}

// waitInto is wait that decodes expr's truthy value into v (unless nil),
// so that what made it true is read in the same evaluation.
func (p *browserPage) waitInto(what string, timeout time.Duration, expr string, v any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout+2*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Poll[[]byte](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		p.t.Fatalf("waiting for %s: %v\n%s", what, err, p.diagnostics())
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			p.t.Fatalf("decoding what %s was waited for: %v (%s)", what, err, raw)
		}
	}
}

func (p *browserPage) run(expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](expr)); err != nil {
		p.t.Fatalf("running %s: %v", expr, err)
	}
}

func (p *browserPage) eval(expr string) any {
	p.t.Helper()
	var v any
	p.evalInto(expr, &v)
	return v
}

func (p *browserPage) evalInto(expr string, v any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", expr, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		p.t.Fatalf("decoding the value of %s: %v (%s)", expr, err, raw)
	}
}

func (p *browserPage) screenshot(path string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("wrote %s (%d bytes)", path, len(png))
}

func (p *browserPage) diagnostics() string {
	ctx, cancel := context.WithTimeout(p.ctx, 3*time.Second)
	defer cancel()
	state, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](
		`JSON.stringify({state: voicegate.state, session: voicegate.session, counters: voicegate.counters,
		  entered: voicegate.entered, playback: voicegate.playback, lastLatency: voicegate.lastLatency, micError: voicegate.micError, messages: voicegate.messages,
		  timeline: voicegate.timeline,
		  banner: document.getElementById('banner').hidden ? '' : document.getElementById('banner-text').textContent}, null, 1)`))
	if err != nil {
		state = []byte(err.Error())
	}
	var s string
	_ = json.Unmarshal(state, &s)
	return fmt.Sprintf("page: %s\nconsole:\n%s\nserver log:\n%s", s, strings.Join(p.console.all(), "\n"), p.g.Log())
}

// browserConsole records what the page writes to the console.
type browserConsole struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

func (c *browserConsole) collect(msgs iter.Seq2[chromedp.ConsoleMessage, error]) {
	for m, err := range msgs {
		if err != nil {
			return
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
	}
}

func (c *browserConsole) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.msgs {
		out = append(out, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
	}
	return out
}

// errors returns the console errors and uncaught exceptions.
func (c *browserConsole) errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.msgs {
		if m.Type == chromedp.ConsoleError || m.IsException() {
			out = append(out, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
		}
	}
	return out
}

func browserLatencyLine(l map[string]any) string {
	var b strings.Builder
	for _, k := range []string{"endpoint_ms", "asr_final_ms", "llm_first_token_ms", "first_sentence_ms",
		"tts_first_audio_ms", "first_audio_sent_ms", "first_sound_ms"} {
		if v, ok := l[k].(float64); ok {
			fmt.Fprintf(&b, "%s=%.0f ", strings.TrimSuffix(k, "_ms"), v)
		}
	}
	return strings.TrimSpace(b.String())
}

func browserJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
