//go:build linux

package gateway

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// sendRoom tells whether the socket's send buffer can take a message now:
// Send writes a message itself only then, so a client that does not read
// never stalls the pipeline (the writer, which may wait, takes over). It
// asks the kernel what is queued (SIOCOUTQ) once per message written
// inline; the buffer's size (SO_SNDBUF) is read once and again only when
// the message does not fit, as the kernel grows the buffer with the
// connection's needs.
type sendRoom struct {
	raw         syscall.RawConn
	queue, size func(fd uintptr) // bound once: Control with a closure per call would allocate
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
		r.raw, r.queue, r.size = raw, r.readQueued, r.readSize
	}
	if !r.call(r.queue) {
		return false
	}
	// The kernel charges a buffer with about twice its payload
	// (socket(7), SO_SNDBUF): half of it is what a write can fill.
	if r.queued+n <= r.buf/2 {
		return true
	}
	return r.call(r.size) && r.queued+n <= r.buf/2
}

// call runs f on the socket and reports whether it read what it asked.
func (r *sendRoom) call(f func(fd uintptr)) bool {
	r.ok = false
	return r.raw.Control(f) == nil && r.ok
}

func (r *sendRoom) readQueued(fd uintptr) {
	q, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
	r.queued, r.ok = q, err == nil
}

func (r *sendRoom) readSize(fd uintptr) {
	b, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
	r.buf, r.ok = b, err == nil
}
