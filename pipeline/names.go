package pipeline

import (
	"fmt"
	"strings"
)

// Named is implemented by a provider that names itself. The name labels it
// in session.started, metrics, errors and logs: the engine ("pocketsphinx",
// "espeakng:en-us") or, for an HTTP provider, kind:model
// ("openai:gpt-4o-mini"). Providers need not implement it; see NameOf.
type Named interface {
	Name() string
}

// NameOf returns v's Name, or, when v has none (a RecognizerFunc, say), its
// type, as in "pipeline.GeneratorFunc". It returns "" for nil.
func NameOf(v any) string {
	if v == nil {
		return ""
	}
	if n, ok := v.(Named); ok {
		if name := n.Name(); name != "" {
			return name
		}
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", v), "*")
}
