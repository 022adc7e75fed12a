package gateway

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// ClusterCounter shares each API key's share of the gateway among the
// nodes behind one load balancer, so that server.max_sessions_per_key and
// server.session_rate hold for the whole cluster, not per node. Each node
// calls Exchange once per Options.ClusterInterval; between exchanges it
// decides alone, so a limit may be passed by what the other nodes admitted
// in the last interval or two: staleness is bounded by twice the
// interval. Per-address limits stay per node.
//
// Keys are the gateway's own names for principals (never an API key
// itself). Exchange may be called concurrently; it does not retain its
// maps.
type ClusterCounter interface {
	// Exchange publishes node's connections open now, by key, until ttl
	// passes without another exchange, and adds started, the sessions
	// node started by key since its last exchange, to the cluster's
	// running totals. It returns the connections open on every live node
	// (node's included) and the running totals of the keys of started and
	// of want.
	Exchange(ctx context.Context, node string, open map[string]int, started map[string]int64, want []string, ttl time.Duration) (clusterOpen map[string]int, totals map[string]int64, err error)
}

// clusterKeyPrefix marks the admission keys shared with the cluster: the
// per-key ones.
const clusterKeyPrefix = "key "

// clusterSync runs the exchanges of one Server.
type clusterSync struct {
	srv      *Server
	counter  ClusterCounter
	node     string
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	failing  bool // run's goroutine only
}

func newClusterSync(s *Server, counter ClusterCounter) *clusterSync {
	y := &clusterSync{srv: s, counter: counter, node: randomToken(12), stop: make(chan struct{})}
	y.wg.Add(1)
	go y.run()
	return y
}

func (y *clusterSync) run() {
	defer y.wg.Done()
	tick := time.NewTicker(y.srv.opts.ClusterInterval)
	defer tick.Stop()
	for {
		select {
		case <-y.stop:
			return
		case <-tick.C:
			y.exchange()
		}
	}
}

// exchange trades this node's counts for the cluster's. On a failure the
// node falls back to its own counts until an exchange succeeds.
func (y *clusterSync) exchange() {
	s, a := y.srv, y.srv.admit
	open, started, want := a.clusterState()
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.StoreTimeout)
	clusterOpen, totals, err := y.counter.Exchange(ctx, y.node, open, started, want, 3*s.opts.ClusterInterval)
	cancel()
	result := "ok"
	if err != nil {
		result = "error"
		a.clusterFailed(started)
	} else {
		a.applyCluster(open, clusterOpen, started, totals, s.opts.Now())
	}
	s.metrics.storeOps.WithLabelValues("limits", result).Inc()
	if failing := err != nil; failing != y.failing {
		y.failing = failing
		if failing {
			s.log.Warn("cluster-wide limits unavailable: each node enforces its own until the store answers", zap.Error(err))
		} else {
			s.log.Info("cluster-wide limits shared again")
		}
	}
}

// close stops the exchanges; it may be called more than once.
func (y *clusterSync) close() {
	y.stopOnce.Do(func() { close(y.stop) })
	y.wg.Wait()
}

// clusterState returns what this node shares: its per-key connections
// open, the sessions it started per key since the last exchange (taken,
// so the next exchange counts only newer ones), and the keys whose totals
// it wants (those it has a bucket for).
func (a *admission) clusterState() (open map[string]int, started map[string]int64, want []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	open = make(map[string]int)
	for k, n := range a.open {
		if strings.HasPrefix(k, clusterKeyPrefix) {
			open[k] = n
		}
	}
	started, a.started = a.started, make(map[string]int64)
	for k := range a.buckets {
		if strings.HasPrefix(k, clusterKeyPrefix) {
			want = append(want, k)
		}
	}
	return open, started, want
}

// applyCluster takes in an exchange's answer: the connections open
// elsewhere count against each key's cap, and the sessions started
// elsewhere since the last answer are taken from this node's buckets.
func (a *admission) applyCluster(sentOpen, clusterOpen map[string]int, sentStarted, totals map[string]int64, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.remote = make(map[string]int, len(clusterOpen))
	for k, n := range clusterOpen {
		if others := n - sentOpen[k]; others > 0 {
			a.remote[k] = others
		}
	}
	for k, total := range totals {
		last, seen := a.totals[k]
		b := a.buckets[k]
		if !seen || b == nil {
			continue
		}
		if others := total - last - sentStarted[k]; others > 0 {
			b.ReserveN(now, int(min(others, int64(a.burst)))) // kept: the bucket goes into debt
		}
	}
	a.totals = totals
}

// clusterFailed puts back the starts an exchange failed to share, and
// forgets the other nodes' counts: the node enforces its own alone.
func (a *admission) clusterFailed(started map[string]int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.remote = nil
	a.totals = nil
	for k, n := range started {
		if len(a.started) < maxClusterKeys {
			a.started[k] += n
		}
	}
}

// maxClusterKeys caps the starts kept for an exchange while the store
// fails.
const maxClusterKeys = 100000
