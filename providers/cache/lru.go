package cache

import (
	"container/list"
	"sync"
	"time"
)

// entryOverhead is what an entry costs beyond its key and value: the list
// element, the map slot and the entry itself, roughly.
const entryOverhead = 128

// lru is the in-process tier: values by key, the least recently used
// dropped first to stay within max bytes, each expiring ttl after it was
// stored. Values are shared with callers, who must not modify them. Its
// methods may be called concurrently.
type lru struct {
	max     int64
	ttl     time.Duration
	now     func() time.Time
	evicted func(reason string, size int64) // called with mu held
	stored  func(bytes int64, entries int)  // the totals after a change, mu held

	mu    sync.Mutex
	items map[string]*list.Element
	order list.List // of *entry, most recently used at the front
	bytes int64
}

type entry struct {
	key     string
	val     []byte
	expires time.Time
}

func (e *entry) size() int64 { return int64(len(e.key)+len(e.val)) + entryOverhead }

func newLRU(max int64, ttl time.Duration, now func() time.Time) *lru {
	return &lru{
		max: max, ttl: ttl, now: now,
		evicted: func(string, int64) {},
		stored:  func(int64, int) {},
		items:   map[string]*list.Element{},
	}
}

// get returns the value of key, or false when there is none or it has
// expired (it is then dropped).
func (c *lru) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*entry)
	if !c.now().Before(e.expires) {
		c.remove(el, "expired")
		c.stored(c.bytes, len(c.items))
		return nil, false
	}
	c.order.MoveToFront(el)
	return e.val, true
}

// fits reports whether a value of n bytes under key could be kept.
func (c *lru) fits(key string, n int) bool {
	return int64(len(key)+n)+entryOverhead <= c.max
}

// put stores val under key, replacing what was there, and drops expired
// and then least recently used entries until the total fits. A value that
// alone exceeds the bound is not stored; put reports whether it was.
// The cache keeps val: the caller must not modify it afterwards.
func (c *lru) put(key string, val []byte) bool {
	if !c.fits(key, len(val)) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if el, ok := c.items[key]; ok {
		c.bytes -= el.Value.(*entry).size()
		c.order.Remove(el)
		delete(c.items, key)
	}
	e := &entry{key: key, val: val, expires: now.Add(c.ttl)}
	c.items[key] = c.order.PushFront(e)
	c.bytes += e.size()
	// The oldest entries are at the back: expired ones there go first,
	// whatever the size, then whatever is needed to fit.
	for back := c.order.Back(); back != nil && back.Value.(*entry) != e; back = c.order.Back() {
		if !now.Before(back.Value.(*entry).expires) {
			c.remove(back, "expired")
			continue
		}
		if c.bytes <= c.max {
			break
		}
		c.remove(back, "size")
	}
	c.stored(c.bytes, len(c.items))
	return true
}

// remove drops el; mu must be held.
func (c *lru) remove(el *list.Element, reason string) {
	e := el.Value.(*entry)
	c.order.Remove(el)
	delete(c.items, e.key)
	c.bytes -= e.size()
	c.evicted(reason, e.size())
}

// len returns the entries and bytes held.
func (c *lru) len() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.bytes
}
