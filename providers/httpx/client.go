package httpx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/voicegate/voicegate/pipeline"
)

// Retry backoff: full jitter, a uniformly random wait in
// [0, min(backoffCap, backoffBase·2^attempt)).
const (
	backoffBase = 100 * time.Millisecond
	backoffCap  = 2 * time.Second
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// Clock is the time a Client waits by. Tests inject a fake one to see
// backoff and breaker cool-downs without waiting; the TTFB watchdog and
// context deadlines always use real time.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, whichever is first, and then
	// returns ctx.Err() or nil.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error { return pipeline.Sleep(ctx, d) }

// Option adjusts a Client for tests.
type Option func(*Client)

// WithClock sets the clock used for backoff, Retry-After dates and the
// breaker cool-down.
func WithClock(c Clock) Option { return func(cl *Client) { cl.clock = c } }

// WithRand sets the jitter source; f returns a number in [0, 1).
func WithRand(f func() float64) Option { return func(cl *Client) { cl.rand = f } }

// Client calls one provider resiliently. It is safe for concurrent use.
type Client struct {
	name  string
	cfg   Config
	log   *zap.Logger
	clock Clock
	rand  func() float64

	tr  *http.Transport
	hc  *http.Client
	lim *limiter

	key     Secret
	tokens  oauth2.TokenSource
	secrets *scrubber // every credential, masked in errors and logs

	// The background Prewarm after the breaker closes; see rewarm.
	bgCtx     context.Context
	bgCancel  context.CancelFunc
	bg        sync.WaitGroup
	bgMu      sync.Mutex
	bgClosed  bool // Close was called: start no more
	rewarming bool
}

// New returns a Client for cfg. It resolves the API key or OAuth2 secret
// now, so a missing environment variable or file is an error here rather
// than on the first call. A nil logger logs nothing.
func New(cfg Config, logger *zap.Logger, opts ...Option) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	host := ""
	if u, err := url.Parse(cfg.BaseURL); err == nil {
		host = u.Host
	}
	c := &Client{
		name:  cfg.Name,
		cfg:   cfg,
		log:   logger.With(zap.String("provider", cfg.Name), zap.String("host", host)),
		clock: realClock{},
		rand:  rand.Float64,
	}
	for _, o := range opts {
		o(c)
	}
	key, err := cfg.apiKey()
	if err != nil {
		return nil, err
	}
	c.key = key
	secrets := []string{key.Reveal()}
	for _, v := range cfg.Headers {
		secrets = append(secrets, v.Reveal())
	}

	c.tr = &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   cfg.ConnectTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          cfg.MaxIdleConnsPerHost + 4, // + the OAuth2 token endpoint
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	c.hc = &http.Client{Transport: c.tr}

	if o := cfg.OAuth2; o != nil {
		secret := o.ClientSecret
		if o.ClientSecretFile != "" {
			if secret, err = readSecretFile(cfg.Name, "oauth2.client_secret_file", o.ClientSecretFile); err != nil {
				return nil, err
			}
		}
		secrets = append(secrets, secret.Reveal())
		cc := &clientcredentials.Config{
			ClientID:     o.ClientID,
			ClientSecret: secret.Reveal(),
			TokenURL:     o.TokenURL,
			Scopes:       o.Scopes,
		}
		// The token fetch runs outside any one call; bound it on its own.
		tokenCtx := context.WithValue(context.Background(), oauth2.HTTPClient,
			&http.Client{Transport: c.tr, Timeout: cfg.ConnectTimeout + cfg.TTFB})
		// cc.TokenSource caches the token but refreshes only 10 s before
		// expiry; set our own margin.
		c.tokens = oauth2.ReuseTokenSourceWithExpiry(nil, cc.TokenSource(tokenCtx), o.ExpiryDelta)
	}
	c.secrets = newScrubber(secrets...)
	c.lim = newLimiter(cfg.Name, cfg.MaxConcurrency, cfg.FailureThreshold, cfg.BreakerCoolDown, c.clock.Now, c.log)
	c.lim.onRecover = c.rewarm
	c.bgCtx, c.bgCancel = context.WithCancel(context.Background())
	return c, nil
}

// Name is the provider's label.
func (c *Client) Name() string { return c.name }

// BaseURL is the API root without a trailing slash.
func (c *Client) BaseURL() string { return c.cfg.BaseURL }

// Stats reports the limiter's state.
func (c *Client) Stats() Stats { return c.lim.stats() }

// CloseIdleConnections closes kept-alive connections that carry no call.
func (c *Client) CloseIdleConnections() { c.tr.CloseIdleConnections() }

// Close stops the Client's background work (reopening warm connections
// after the breaker closes), waits for it, and closes idle connections.
// Calls still work after Close, without that background work. Close is
// idempotent.
func (c *Client) Close() {
	c.bgMu.Lock()
	c.bgClosed = true
	c.bgMu.Unlock()
	c.bgCancel()
	c.bg.Wait()
	c.tr.CloseIdleConnections()
}

// Do sends req with retries, the TTFB watchdog, the concurrency limit and
// the breaker, and returns a 2xx response whose body is ready to stream, or
// an error (see the package doc). The caller must close the body: that frees
// the call's concurrency slot. Do sets the Authorization header and the
// configured extra headers. A request body without GetBody is sent once.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	parent := req.Context()
	ctx, cancel := context.WithTimeoutCause(parent, c.cfg.Timeout, errCallTimeout)
	retries := c.cfg.MaxRetries
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		retries = 0
	}
	for attempt := 0; ; attempt++ {
		s, err := c.lim.acquire(ctx)
		if err != nil {
			cancel()
			return nil, c.ctxError(parent, ctx, err)
		}
		resp, retry, err := c.attempt(ctx, req, attempt, s, cancel)
		if err == nil {
			return resp, nil
		}
		s.done()
		if !retry || attempt >= retries {
			cancel()
			return nil, err
		}
		wait, ok := c.backoff(ctx, attempt, err)
		if !ok {
			cancel()
			return nil, err
		}
		c.log.Info("retrying provider call",
			zap.Int("attempt", attempt+2),
			zap.Duration("wait", wait),
			zap.String("error", c.scrub(err.Error())))
		if err := c.clock.Sleep(ctx, wait); err != nil {
			cancel()
			return nil, c.ctxError(parent, ctx, err)
		}
	}
}

// attempt makes one try. On success the returned body owns s, the attempt's
// context and cancelCall.
func (c *Client) attempt(ctx context.Context, req *http.Request, n int, s *slot, cancelCall context.CancelFunc) (*http.Response, bool, error) {
	actx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(c.cfg.TTFB, func() { cancel(errTTFB) })
	fail := func(retry bool, o outcome, err error) (*http.Response, bool, error) {
		timer.Stop()
		cancel(nil)
		s.record(o)
		return nil, retry, err
	}

	r := req.Clone(actx)
	if n > 0 && req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			return fail(false, neutral, fmt.Errorf("%s: rewinding request body: %w", c.name, err))
		}
		r.Body = b
	}
	for k, v := range c.cfg.Headers {
		r.Header.Set(k, v.Reveal())
	}
	if retry, err := c.authorize(r); err != nil {
		return fail(retry, neutral, err)
	}

	resp, err := c.hc.Do(r)
	if err != nil {
		return fail(c.transportError(req.Context(), actx, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		retry, o, e := c.statusError(resp, b)
		return fail(retry, o, e)
	}

	// Wait for the first body byte under the watchdog, so that a stall or a
	// drop before it is still ours to retry or to time out.
	buf := make([]byte, 2048)
	m, rerr := 0, error(nil)
	for m == 0 && rerr == nil {
		m, rerr = resp.Body.Read(buf)
	}
	if !timer.Stop() || m == 0 && rerr != io.EOF {
		resp.Body.Close()
		if rerr == nil || rerr == io.EOF {
			rerr = errTTFB
		}
		return fail(c.transportError(req.Context(), actx, rerr))
	}
	s.record(healthy)
	resp.Body = &body{
		c: c, rc: resp.Body, prefix: buf[:m], pending: rerr, n: int64(m),
		parent: req.Context(), actx: actx, slot: s,
		release: func() { cancel(nil); cancelCall() },
	}
	return resp, false, nil
}

func (c *Client) authorize(r *http.Request) (retry bool, err error) {
	switch {
	case c.tokens != nil:
		tok, err := c.tokens.Token()
		if err != nil {
			// The token endpoint's answer is in err's text and may echo
			// the client secret.
			e := &Error{Provider: c.name, Kind: pipeline.ErrUnavailable, Message: "fetching OAuth2 token", Err: errors.New(c.scrub(err.Error()))}
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
				e.Kind, e.StatusCode = pipeline.ErrRejected, re.Response.StatusCode
				return false, e
			}
			return true, e
		}
		c.secrets.token(tok.AccessToken)
		tok.SetAuthHeader(r)
	case c.key != "":
		r.Header.Set("Authorization", "Bearer "+c.key.Reveal())
	}
	return false, nil
}

// transportError maps an error that came without a response.
func (c *Client) transportError(parent, actx context.Context, err error) (retry bool, o outcome, _ error) {
	if parent.Err() != nil {
		return false, neutral, parent.Err()
	}
	switch context.Cause(actx) {
	case errTTFB:
		return false, failed, &Error{Provider: c.name, Kind: pipeline.ErrTimeout,
			Message: fmt.Sprintf("no response within %v (ttfb)", c.cfg.TTFB)}
	case errCallTimeout:
		return false, neutral, &Error{Provider: c.name, Kind: pipeline.ErrTimeout,
			Message: fmt.Sprintf("call exceeded its %v timeout", c.cfg.Timeout)}
	}
	return true, failed, &Error{Provider: c.name, Kind: pipeline.ErrUnavailable, Err: err}
}

// ctxError maps an error seen outside an attempt (queueing, backoff).
func (c *Client) ctxError(parent, ctx context.Context, err error) error {
	if parent.Err() != nil {
		return parent.Err()
	}
	if context.Cause(ctx) == errCallTimeout {
		return &Error{Provider: c.name, Kind: pipeline.ErrTimeout,
			Message: fmt.Sprintf("call exceeded its %v timeout", c.cfg.Timeout)}
	}
	return err
}

// backoff says how long to wait before retry attempt+1, or false to give up.
func (c *Client) backoff(ctx context.Context, attempt int, err error) (time.Duration, bool) {
	var wait time.Duration
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		if e.RetryAfter > c.cfg.MaxRetryAfter {
			return 0, false
		}
		wait = e.RetryAfter
	} else {
		ceil := min(backoffCap, backoffBase<<min(attempt, 16))
		wait = time.Duration(c.rand() * float64(ceil))
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return 0, false
	}
	return wait, true
}

// Prewarm opens up to Config.PrewarmConns connections at once, each with a
// GET of BaseURL/models, so that the first calls skip the TCP and TLS
// handshakes. Any HTTP answer counts as warm; errors mean the provider was
// not reachable. Prewarm bypasses retries and the breaker. The Client
// calls it itself, in the background, when its breaker closes.
func (c *Client) Prewarm(ctx context.Context) error { return c.Scrub(c.prewarm(ctx)) }

func (c *Client) prewarm(ctx context.Context) error {
	n := c.cfg.PrewarmConns
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.prewarmOne(ctx)
		}()
	}
	wg.Wait()
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	switch {
	case len(failed) == 0:
		return nil
	case n == 1:
		return failed[0]
	}
	// The connections usually fail alike: say the first once.
	return fmt.Errorf("%d of %d connections not opened: %w", len(failed), n, failed[0])
}

// rewarm runs Prewarm in the background when the breaker has closed: the
// outage has most likely taken the pooled connections with it, and the
// calls that come back together would otherwise each pay for a handshake.
// At most one runs at a time; Close stops and waits for it.
func (c *Client) rewarm() {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	if c.bgClosed || c.rewarming {
		return
	}
	c.rewarming = true
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		start := time.Now()
		err := c.Prewarm(c.bgCtx)
		c.bgMu.Lock()
		c.rewarming = false
		c.bgMu.Unlock()
		switch {
		case c.bgCtx.Err() != nil:
		case err != nil:
			c.log.Info("reopening warm connections after the breaker closed failed", zap.Duration("took", time.Since(start)), zap.Error(err))
		default:
			c.log.Info("warm connections reopened after the breaker closed",
				zap.Int("connections", c.cfg.PrewarmConns), zap.Duration("took", time.Since(start)))
		}
	}()
}

func (c *Client) prewarmOne(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout+c.cfg.TTFB)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.BaseURL+"/models", nil)
	if err != nil {
		return err
	}
	for k, v := range c.cfg.Headers {
		req.Header.Set(k, v.Reveal())
	}
	if _, err := c.authorize(req); err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return &Error{Provider: c.name, Kind: pipeline.ErrUnavailable, Message: "prewarm", Err: err}
	}
	// Drain so that the connection goes back to the pool.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.Body.Close()
}

// body is a 2xx response body that maps its errors and frees the call's slot
// on Close.
type body struct {
	c       *Client
	rc      io.ReadCloser
	prefix  []byte // read under the watchdog, not yet handed on
	pending error  // what the watchdog read ended with
	n       int64  // bytes read from rc
	parent  context.Context
	actx    context.Context
	slot    *slot
	release func()
	err     error // sticky mapped error
	once    sync.Once
}

func (b *body) Read(p []byte) (int, error) {
	if len(b.prefix) > 0 {
		n := copy(p, b.prefix)
		b.prefix = b.prefix[n:]
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	if err := b.pending; err != nil {
		b.pending = nil
		return 0, b.fail(err)
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if err != nil {
		err = b.fail(err)
	}
	return n, err
}

func (b *body) fail(err error) error {
	switch {
	case err == io.EOF:
		return err
	case b.parent.Err() != nil:
		b.err = b.parent.Err()
	case context.Cause(b.actx) == errCallTimeout:
		b.err = &Error{Provider: b.c.name, Kind: pipeline.ErrTimeout,
			Message: fmt.Sprintf("call exceeded its %v timeout while reading the response", b.c.cfg.Timeout)}
	default:
		b.c.lim.record(failed, false)
		b.c.log.Info("response stream broken", zap.Int64("bytes", b.n), zap.String("error", b.c.scrub(err.Error())))
		b.err = &Error{Provider: b.c.name, Kind: pipeline.ErrBadResponse,
			Message: fmt.Sprintf("response broken after %d bytes", b.n), Err: err}
	}
	return b.err
}

func (b *body) Close() error {
	err := b.rc.Close()
	b.once.Do(func() {
		b.slot.done()
		b.release()
	})
	return err
}
