package gateway

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/voicegate/voicegate/gateway/protocol"
)

// protocolCodes returns every Code constant that package protocol declares,
// read from its source so that a new code cannot be left out here.
func protocolCodes(t *testing.T) []protocol.Code {
	t.Helper()
	fset := token.NewFileSet()
	paths, err := filepath.Glob(filepath.Join("protocol", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var codes []protocol.Code
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: a Code constant that is not a string literal", fset.Position(v.Pos()))
					}
					s, _ := strconv.Unquote(lit.Value)
					codes = append(codes, protocol.Code(s))
				}
			}
		}
	}
	if len(codes) < 20 {
		t.Fatalf("found only %d codes in package protocol", len(codes))
	}
	return codes
}

// TestEveryCodeHasARule: codeRules is the one table, so it must have a row
// for every code the protocol defines, and no more.
func TestEveryCodeHasARule(t *testing.T) {
	codes := protocolCodes(t)
	for _, code := range codes {
		t.Run(string(code), func(t *testing.T) {
			r, ok := codeRules[code]
			if !ok {
				t.Fatalf("no entry in codeRules")
			}
			if r.Fatal != (r.Status != 0 || r.HTTP != 0) {
				t.Errorf("%+v: a fatal code needs a close or an HTTP status, and only a fatal one has either", r)
			}
		})
	}
	for code := range codeRules {
		if !slices.Contains(codes, code) {
			t.Errorf("codeRules has %q, which package protocol does not define", code)
		}
	}
}

// TestErrorTableDocumented: the Errors table of docs/protocol.md says, for
// every code, what codeRules says.
func TestErrorTableDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "\n## Errors\n")
	if i < 0 {
		t.Fatal("docs/protocol.md has no Errors section")
	}
	doc = doc[i+1:]
	if j := strings.Index(doc[1:], "\n## "); j >= 0 {
		doc = doc[:j+1]
	}
	// | `code` | when | fatal | close status | retryable |
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|[^|]*\\|([^|]*)\\|([^|]*)\\|([^|]*)\\|$")
	number := regexp.MustCompile(`\d{3,4}`)
	yes := func(cell string) bool { return strings.Trim(cell, " *") == "yes" }
	seen := map[protocol.Code]bool{}
	for _, m := range row.FindAllStringSubmatch(doc, -1) {
		code := protocol.Code(m[1])
		r, ok := codeRules[code]
		if !ok {
			t.Errorf("the table documents %q, which codeRules does not have", code)
			continue
		}
		if seen[code] {
			t.Errorf("%s: documented twice", code)
		}
		seen[code] = true
		var want []string
		if r.Status != 0 {
			want = append(want, strconv.Itoa(int(r.Status)))
		}
		if r.HTTP != 0 {
			want = append(want, strconv.Itoa(r.HTTP))
		}
		if got := number.FindAllString(m[3], -1); !slices.Equal(got, want) {
			t.Errorf("%s: documented statuses %v, want %v", code, got, want)
		}
		if yes(m[2]) != r.Fatal {
			t.Errorf("%s: documented fatal %q, want %v", code, strings.TrimSpace(m[2]), r.Fatal)
		}
		if yes(m[4]) != r.Retryable {
			t.Errorf("%s: documented retryable %q, want %v", code, strings.TrimSpace(m[4]), r.Retryable)
		}
	}
	for code := range codeRules {
		if !seen[code] {
			t.Errorf("%s: not in the Errors table of docs/protocol.md", code)
		}
	}
}
