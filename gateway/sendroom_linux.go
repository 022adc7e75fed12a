//go:build linux

package gateway

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// sendRoom tells whether the socket's send buffer can take a message now:
// Send writes a message itself only then, so a client that does not read
// never stalls the pipeline (the writer, which may wait, takes over). It
// asks the kernel, two syscalls, once per message written inline.
type sendRoom struct {
	raw         syscall.RawConn
	measure     func(fd uintptr) // bound once: Control with a closure per call would allocate
	queued, buf int
	ok          bool
}

// roomFor reports whether n more bytes fit in the socket's send buffer
// without blocking. A transport that is not a socket (TLS, a test's pipe)
// never has room: its messages go through the writer.
func (c *connection) roomFor(n int) bool {
	r := &c.room
	if r.raw == nil {
		sc, ok := c.netConn.(syscall.Conn)
		if !ok {
			return false
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			return false
		}
		r.raw, r.measure = raw, r.read
	}
	r.ok = false
	if r.raw.Control(r.measure) != nil || !r.ok {
		return false
	}
	// The kernel charges a buffer with about twice its payload
	// (socket(7), SO_SNDBUF): half of it is what a write can fill.
	return r.queued+n <= r.buf/2
}

func (r *sendRoom) read(fd uintptr) {
	q, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
	if err != nil {
		return
	}
	b, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err != nil {
		return
	}
	r.queued, r.buf, r.ok = q, b, true
}
