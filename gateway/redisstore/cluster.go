package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/voicegate/voicegate/gateway"
)

var _ gateway.ClusterCounter = (*Store)(nil)

// exchangeScript publishes one node's open connections and adds its
// session starts, and answers the cluster's counts, in one round trip.
//
// KEYS[1] the sorted set of live nodes (score: when each expires, in ms).
// ARGV: node, ttl in ms, the prefix of a node's hash, the prefix of the
// running totals, then the number of open counts and their pairs (key,
// count), the number of starts and their pairs (key, delta), then the
// keys whose totals are wanted. A node's hash, and a total, are keys the
// script names itself: one Redis, not a cluster.
var exchangeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local node, ttl, np, tp = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local i = 5
local nopen = tonumber(ARGV[i]); i = i + 1
redis.call('DEL', np .. node)
for j = 1, nopen do
  redis.call('HSET', np .. node, ARGV[i], ARGV[i + 1]); i = i + 2
end
if nopen > 0 then redis.call('PEXPIRE', np .. node, ttl) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, node)
redis.call('PEXPIRE', KEYS[1], ttl)
local open = {}
for _, n in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local h = redis.call('HGETALL', np .. n)
  for k = 1, #h, 2 do open[h[k]] = (open[h[k]] or 0) + tonumber(h[k + 1]) end
end
local started = {}
local nstart = tonumber(ARGV[i]); i = i + 1
for j = 1, nstart do
  local key = tp .. ARGV[i]
  started[ARGV[i]] = redis.call('INCRBY', key, ARGV[i + 1])
  redis.call('PEXPIRE', key, 600000)
  i = i + 2
end
while i <= #ARGV do
  if not started[ARGV[i]] then started[ARGV[i]] = tonumber(redis.call('GET', tp .. ARGV[i]) or '0') end
  i = i + 1
end
local o, s = {}, {}
for k, v in pairs(open) do o[#o + 1] = k; o[#o + 1] = tostring(v) end
for k, v in pairs(started) do s[#s + 1] = k; s[#s + 1] = tostring(v) end
return {o, s}
`)

// Exchange implements gateway.ClusterCounter. A node that stops
// exchanging (it died) stops counting once ttl has passed; the running
// totals of session starts expire ten minutes after their last start.
func (s *Store) Exchange(ctx context.Context, node string, open map[string]int, started map[string]int64, want []string, ttl time.Duration) (map[string]int, map[string]int64, error) {
	args := make([]any, 0, 6+2*len(open)+2*len(started)+len(want))
	args = append(args, node, ms(ttl), s.prefix+"node:", s.prefix+"starts:", len(open))
	for k, n := range open {
		args = append(args, k, n)
	}
	args = append(args, len(started))
	for k, n := range started {
		args = append(args, k, n)
	}
	for _, k := range want {
		args = append(args, k)
	}
	res, err := exchangeScript.Run(ctx, s.client, []string{s.prefix + "nodes"}, args...).Slice()
	if err != nil {
		return nil, nil, fmt.Errorf("redisstore: exchange: %w", err)
	}
	if len(res) != 2 {
		return nil, nil, fmt.Errorf("redisstore: exchange: unexpected answer of %d values", len(res))
	}
	clusterOpen, err := pairs(res[0], func(v string) (int, error) { return strconv.Atoi(v) })
	if err != nil {
		return nil, nil, err
	}
	totals, err := pairs(res[1], func(v string) (int64, error) { return strconv.ParseInt(v, 10, 64) })
	if err != nil {
		return nil, nil, err
	}
	return clusterOpen, totals, nil
}

// pairs reads a flat list of key, value as a map.
func pairs[V any](v any, parse func(string) (V, error)) (map[string]V, error) {
	list, ok := v.([]any)
	if !ok && v != nil {
		return nil, fmt.Errorf("redisstore: exchange: a %T, not a list", v)
	}
	out := make(map[string]V, len(list)/2)
	for i := 0; i+1 < len(list); i += 2 {
		k, _ := list[i].(string)
		sv, _ := list[i+1].(string)
		n, err := parse(sv)
		if err != nil {
			return nil, fmt.Errorf("redisstore: exchange: %w", err)
		}
		out[k] = n
	}
	return out, nil
}
