//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/voicegate/voicegate/gateway/protocol"
)

// TestBrowserTicket: a page that is given a ticket instead of a key (a
// backend minted it with POST /v1/tickets) opens its session with it, and,
// after the socket drops, reconnects and resumes with its resume token,
// since the ticket is spent and it has no key.
func TestBrowserTicket(t *testing.T) {
	need(t, "chromium")
	chromium, _ := exec.LookPath("chromium")
	const key = "vg-e2e-ticket-key-0123456789"
	g := startGateway(t, "server: {api_keys: ["+key+"]}\n")

	req, _ := http.NewRequest("POST", g.URL("/v1/tickets"), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tk protocol.Ticket
	err = json.NewDecoder(resp.Body).Decode(&tk)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || tk.Ticket == "" {
		t.Fatalf("minting a ticket: HTTP %d, %v", resp.StatusCode, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bctx, console := openBrowser(t, ctx, chromium, t.TempDir(), "")

	p := &browserPage{t: t, ctx: bctx, g: g, console: console}
	if err := chromedp.Do(bctx, chromedp.Navigate(g.URL("/?ticket="+tk.Ticket))); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	p.wait("the page to connect with its ticket", 15*time.Second, `voicegate.state === 'listening' && voicegate.counters.sessions === 1`)

	const typed = "remember the ticket"
	if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.ID("text-input"), typed+kb.Enter)); err != nil {
		t.Fatal(err)
	}
	p.wait("the typed reply", 15*time.Second, `voicegate.messages.some(m => m.role === 'assistant' && m.text.toLowerCase().includes("remember the ticket"))`)

	p.run(`voicegate.dropSocket()`)
	p.wait("the page to resume without its spent ticket", 15*time.Second,
		`voicegate.counters.sessions === 2 && voicegate.session.resumed && voicegate.state !== 'reconnecting'`)
	var history []struct{ Role, Text string }
	p.evalInto(`voicegate.messages.map(m => ({role: m.role, text: m.text}))`, &history)
	found := false
	for _, m := range history {
		found = found || (m.Role == "user" && strings.Contains(strings.ToLower(m.Text), typed))
	}
	if !found {
		t.Errorf("the resumed page lost the conversation: %+v", history)
	}
}
