// Package conformance checks what the pipeline relies on from every
// provider, whatever its engine: output arrives through emit, emit's error
// and a cancelled context stop the call promptly, and concurrent calls are
// safe.
//
// The suites have the shape of testing/fstest.TestFS: they take a working
// instance, run every check, and return nil or an error listing each check
// that failed. They do not import package testing, so a provider author can
// run them from a test, a health check or a command:
//
//	func TestConformance(t *testing.T) {
//		if err := conformance.TestSynthesizer(t.Context(), newSynth(t)); err != nil {
//			t.Error(err)
//		}
//	}
package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// CancelWithin is how soon a provider must return once its context is
// cancelled or emit fails. Generous, so a busy CI machine does not fail it;
// providers that do much better measure it in their own tests.
const CancelWithin = 500 * time.Millisecond

// A check is one property of a suite. It calls fail for each way the
// provider falls short, and returns early where the old *testing.T suites
// stopped with Fatal.
type check struct {
	name string
	run  func(ctx context.Context, fail failFunc)
}

type failFunc func(format string, args ...any)

// run runs checks in order and joins their failures, each named
// suite/check like the subtest it replaces.
func run(ctx context.Context, suite string, checks []check) error {
	var (
		mu   sync.Mutex
		errs []error
	)
	for _, c := range checks {
		// Checks may fail from goroutines they start, or from a provider's
		// goroutine calling emit.
		fail := func(format string, args ...any) {
			err := fmt.Errorf("%s/%s: %s", suite, c.name, fmt.Sprintf(format, args...))
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		c.run(ctx, fail)
	}
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(errs...)
}
