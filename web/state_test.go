package web

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// TestStateReducer runs testdata/state_test.js against the page's reducer
// in node (make deps-test installs it): static/state.js imports nothing, so
// the two files make one module. The browser end-to-end test (e2e) covers the
// rest of the page.
func TestStateReducer(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: run make deps-test (Debian package nodejs)")
	}
	state, err := files.ReadFile("static/state.js")
	if err != nil {
		t.Fatal(err)
	}
	checks, err := os.ReadFile("testdata/state_test.js")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "--input-type=module")
	cmd.Stdin = bytes.NewReader(bytes.Join([][]byte{state, checks}, []byte("\n")))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}
