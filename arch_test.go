package voicegate_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection keeps the house's one-way imports (docs: STYLE):
// audio → pipeline → providers | gateway → cmd, with web and configs used
// only by cmd, and no provider importing another.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/voicegate/voicegate/"
	type rule struct {
		pkg   string   // package path prefix, relative to the module
		allow []string // module-internal prefixes it may import
	}
	rules := []rule{
		{"audio", []string{"audio"}},
		{"pipeline", []string{"audio", "pipeline"}},
		{"gateway", []string{"audio", "pipeline", "gateway"}},
		{"providers/httpx", []string{"audio", "pipeline", "providers/httpx"}},
		{"providers/fallback", []string{"audio", "pipeline", "providers/fallback"}},
		{"providers", []string{"audio", "pipeline", "providers/httpx", "providers/internal"}}, // and its own package, checked below
		{"client", []string{"audio", "gateway/protocol", "client"}},
		{"web", nil},
		{"configs", []string{"audio", "gateway"}}, // it composes the option structs of the packages it configures
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		if pkg == fields[0] {
			continue
		}
		var r *rule
		for i := range rules {
			if pkg == rules[i].pkg || strings.HasPrefix(pkg, rules[i].pkg+"/") {
				r = &rules[i]
				break
			}
		}
		for _, imp := range fields[1:] {
			rel, ok := strings.CutPrefix(imp, mod)
			if !ok {
				continue
			}
			if strings.HasPrefix(rel, "cmd/") {
				t.Errorf("%s imports %s: nothing imports a command", pkg, rel)
			}
			if r == nil {
				continue // cmd/... and e2e may import anything
			}
			ok = rel == pkg || strings.HasPrefix(rel, pkg+"/")
			for _, a := range r.allow {
				ok = ok || rel == a || strings.HasPrefix(rel, a+"/")
			}
			if !ok {
				t.Errorf("%s imports %s, which breaks the one-way import rule", pkg, rel)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no module-internal imports found: go list output not understood")
	}
}
