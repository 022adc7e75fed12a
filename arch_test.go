package voicegate_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection keeps the house's one-way imports (docs/architecture.md):
// audio → pipeline → providers | gateway → telemetry | configs → app → cmd, with web
// used only by app and the commands, and no provider importing another.
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
		{"configs", []string{"audio", "gateway", "providers/cache"}}, // it composes the option structs of the packages it configures
		{"telemetry", []string{"audio", "pipeline", "gateway"}},
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

// TestTestCodeStaysOutOfBinaries keeps package testing, which registers the
// test flags and brings the test runner, out of every command, and out of
// the packages binaries may link to check or drive providers; and it keeps
// the test fakes out of the server.
func TestTestCodeStaysOutOfBinaries(t *testing.T) {
	const mod = "github.com/voicegate/voicegate/"
	rules := []struct {
		pkg    string   // a package or, ending in "/...", a tree, relative to the module
		forbid []string // packages it must not link, directly or not
	}{
		{"cmd/...", []string{"testing"}},
		{"pipeline/conformance", []string{"testing"}},  // a provider's own binaries may run the suites
		{"pipeline/pipelinetest", []string{"testing"}}, // a load generator may link the fakes
		// The server links no fakes: a fake in its composition root is one
		// a config can select in production.
		{"cmd/voicegate", []string{mod + "pipeline/pipelinetest"}},
	}
	args := []string{"list", "-deps", "-f", `{{.ImportPath}} {{.DepOnly}} {{join .Imports " "}}`}
	for _, r := range rules {
		args = append(args, "./"+r.pkg)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	var roots []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		imports[fields[0]] = fields[2:]
		if fields[1] == "false" {
			roots = append(roots, fields[0])
		}
	}
	// chain returns the imports that lead from pkg to target, or nil.
	chain := func(pkg, target string) []string {
		from := map[string]string{pkg: ""}
		queue := []string{pkg}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			if p == target {
				var path []string
				for ; p != ""; p = from[p] {
					path = append([]string{strings.TrimPrefix(p, mod)}, path...)
				}
				return path
			}
			for _, imp := range imports[p] {
				if _, seen := from[imp]; !seen {
					from[imp] = p
					queue = append(queue, imp)
				}
			}
		}
		return nil
	}
	checked := 0
	for _, root := range roots {
		rel := strings.TrimPrefix(root, mod)
		for _, r := range rules {
			tree, isTree := strings.CutSuffix(r.pkg, "/...")
			if rel != r.pkg && !(isTree && (rel == tree || strings.HasPrefix(rel, tree+"/"))) {
				continue
			}
			for _, f := range r.forbid {
				if path := chain(root, f); path != nil {
					t.Errorf("%s links %s: %s", rel, strings.TrimPrefix(f, mod), strings.Join(path, " → "))
				}
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no package checked: go list output not understood")
	}
}
