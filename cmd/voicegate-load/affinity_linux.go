//go:build linux

package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// cpuSet is a set of CPUs a process is pinned to (-server-cpus,
// -client-cpus).
type cpuSet struct {
	set  unix.CPUSet
	spec string
}

func (c *cpuSet) String() string { return c.spec }
func (c *cpuSet) count() int     { return c.set.Count() }

// overlaps reports whether c and o share a CPU.
func (c *cpuSet) overlaps(o *cpuSet) bool {
	for i := range maxCPUs {
		if c.set.IsSet(i) && o.set.IsSet(i) {
			return true
		}
	}
	return false
}

// maxCPUs is the highest CPU number a list may name, plus one.
const maxCPUs = 1024

// parseCPUs parses a CPU list as taskset -c takes it: "0", "1-3", "0,2-3".
func parseCPUs(spec string) (*cpuSet, error) {
	c := &cpuSet{spec: spec}
	ids, err := cpuList(spec)
	if err != nil {
		return nil, err
	}
	online := runtime.NumCPU()
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err == nil {
		online = all.Count()
	}
	for _, id := range ids {
		if id >= maxCPUs {
			return nil, fmt.Errorf("cpu list %q: CPU %d out of range", spec, id)
		}
		if err == nil && !all.IsSet(id) {
			return nil, fmt.Errorf("cpu list %q: CPU %d is not available to this process (%d are)", spec, id, online)
		}
		c.set.Set(id)
	}
	return c, nil
}

// pinThreads pins every thread of process pid to c. A thread inherits its
// creator's affinity, so once the existing ones are pinned, those a Go
// runtime starts later are too.
func (c *cpuSet) pinThreads(pid int) error {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &c.set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("pin thread %d of %d to CPUs %s: %w", tid, pid, c.spec, err)
		}
	}
	return nil
}

// pinSelf pins this process to c and sizes GOMAXPROCS to it.
func (c *cpuSet) pinSelf() error {
	if err := c.pinThreads(os.Getpid()); err != nil {
		return err
	}
	runtime.GOMAXPROCS(c.count())
	return nil
}

// startPinned runs start (an exec.Cmd's Start) with the calling thread
// pinned to c, so the child inherits c from its first instruction and its
// Go runtime sizes GOMAXPROCS to it; the thread's own set (back) is
// restored afterwards.
func (c *cpuSet) startPinned(back *cpuSet, start func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var prev unix.CPUSet
	if err := unix.SchedGetaffinity(0, &prev); err != nil {
		return fmt.Errorf("read this thread's CPUs: %w", err)
	}
	if err := unix.SchedSetaffinity(0, &c.set); err != nil {
		return fmt.Errorf("pin to CPUs %s: %w", c.spec, err)
	}
	err := start()
	if back != nil {
		prev = back.set
	}
	if rerr := unix.SchedSetaffinity(0, &prev); rerr != nil && err == nil {
		err = fmt.Errorf("restore this thread's CPUs: %w", rerr)
	}
	return err
}
