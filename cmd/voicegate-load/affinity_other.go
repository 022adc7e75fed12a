//go:build !linux

package main

import "errors"

// cpuSet is a set of CPUs; pinning is Linux-only.
type cpuSet struct{ spec string }

var errNoAffinity = errors.New("CPU pinning needs Linux (sched_setaffinity)")

func (c *cpuSet) String() string             { return c.spec }
func (c *cpuSet) count() int                 { return 0 }
func (c *cpuSet) overlaps(o *cpuSet) bool    { return false }
func parseCPUs(spec string) (*cpuSet, error) { return nil, errNoAffinity }
func (c *cpuSet) pinThreads(pid int) error   { return errNoAffinity }
func (c *cpuSet) pinSelf() error             { return errNoAffinity }
func (c *cpuSet) startPinned(back *cpuSet, start func() error) error {
	return errNoAffinity
}
