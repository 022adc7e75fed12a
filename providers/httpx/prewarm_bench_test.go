package httpx

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFirstCall measures what Prewarm saves: the first call of a new
// Client (a streamed chat completion, timed to its first body byte, which is
// the first token an LLM stage sees), cold and after Prewarm, against a
// local OpenAI-compatible server over TLS. Each iteration is a new Client
// with no TLS session to resume, as after a restart.
//
// rtt adds a network round trip: the client's dial waits one (the TCP
// handshake) and the server holds each of its flights for one, so that a
// call on an open connection costs one round trip and a new connection two
// more (TCP, then TLS 1.3's one), as on a real network. rtt=0 is loopback:
// the handshakes' own cost.
//
// It reports the median (p50-ms) and the 90th percentile (p90-ms) over
// b.N first calls, and how many connections those calls dialled:
//
//	go test -run '^$' -bench FirstCall -benchtime 20x ./providers/httpx/
func BenchmarkFirstCall(b *testing.B) {
	for _, rtt := range []time.Duration{0, 20 * time.Millisecond} {
		srv := newTLSUpstream(b, rtt)
		for _, warm := range []bool{false, true} {
			mode := "cold"
			if warm {
				mode = "prewarmed"
			}
			b.Run(fmt.Sprintf("rtt=%v/%s", rtt, mode), func(b *testing.B) {
				lat := make([]time.Duration, 0, b.N)
				var dials int32 // by the timed calls
				for range b.N {
					c := newTLSClient(b, srv, rtt)
					if warm {
						if err := c.Prewarm(context.Background()); err != nil {
							b.Fatal(err)
						}
					}
					before := srv.dials.Load()
					start := time.Now()
					resp, err := c.Do(chatRequest(b, c))
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
					dials += srv.dials.Load() - before
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					c.Close()
				}
				slices.Sort(lat)
				ms := func(q float64) float64 {
					return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond)
				}
				b.ReportMetric(ms(0.5), "p50-ms")
				b.ReportMetric(ms(0.9), "p90-ms")
				b.ReportMetric(float64(dials)/float64(b.N), "dials/op")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// tlsUpstream is an OpenAI-compatible server over TLS behind a simulated
// network.
type tlsUpstream struct {
	*httptest.Server
	dials atomic.Int32
}

func newTLSUpstream(b *testing.B, rtt time.Duration) *tlsUpstream {
	u := &tlsUpstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/models":
			_, _ = io.WriteString(w, `{"object":"list","data":[{"id":"m","object":"model"}]}`)
		case "/v1/chat/completions":
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "text/event-stream")
			f := w.(http.Flusher)
			for _, ev := range []string{
				`{"choices":[{"index":0,"delta":{"content":"Hello"}}]}`,
				`{"choices":[{"index":0,"delta":{"content":" there."},"finish_reason":"stop"}]}`,
				`[DONE]`,
			} {
				_, _ = io.WriteString(w, "data: "+ev+"\n\n")
				f.Flush()
			}
		default:
			http.NotFound(w, r)
		}
	}))
	// On loopback a prewarm request can be answered on another's connection
	// before its own dial is done; Client.Close then cancels that dial
	// mid-handshake, which is not worth a log line.
	u.Config.ErrorLog = log.New(io.Discard, "", 0)
	u.Listener = &slowListener{Listener: u.Listener, rtt: rtt, dials: &u.dials}
	u.StartTLS()
	b.Cleanup(u.Close)
	return u
}

// newTLSClient returns a Client that trusts u's certificate and whose dial
// costs one round trip.
func newTLSClient(b *testing.B, u *tlsUpstream, rtt time.Duration) *Client {
	c, err := New(Config{Name: "bench", BaseURL: u.URL + "/v1", PrewarmConns: 2}, nil)
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(u.Certificate())
	c.tr.TLSClientConfig = c.tr.TLSClientConfig.Clone()
	c.tr.TLSClientConfig.RootCAs = roots
	dial := c.tr.DialContext
	c.tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		time.Sleep(rtt) // SYN, SYN-ACK
		return dial(ctx, network, addr)
	}
	return c
}

func chatRequest(b *testing.B, c *Client) *http.Request {
	body := []byte(`{"model":"m","messages":[{"role":"system","content":"You are a voice assistant."},{"role":"user","content":"Hello"}],"stream":true}`)
	req, err := http.NewRequest(http.MethodPost, c.BaseURL()+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

// slowListener gives each accepted connection a network of one round trip:
// see slowConn. It counts the connections.
type slowListener struct {
	net.Listener
	rtt   time.Duration
	dials *atomic.Int32
}

func (l *slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.dials.Add(1)
	if l.rtt == 0 {
		return c, nil
	}
	return &slowConn{Conn: c, rtt: l.rtt}, nil
}

// slowConn is the server's end of a connection on which every exchange
// costs a round trip: the first write after a read (the server's answer to
// what the client just sent, be it a TLS ClientHello or an HTTP request)
// waits rtt. Later writes of the same answer (the rest of a stream) do not.
type slowConn struct {
	net.Conn
	rtt  time.Duration
	turn atomic.Bool // read since the last write
}

func (c *slowConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.turn.Store(true)
	}
	return n, err
}

func (c *slowConn) Write(p []byte) (int, error) {
	if c.turn.Swap(false) {
		time.Sleep(c.rtt)
	}
	return c.Conn.Write(p)
}
