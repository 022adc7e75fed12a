package fallback

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
)

// MaxReplay is how much of an utterance the Recognizer chain keeps to replay
// into the next provider.
const MaxReplay = 60 * time.Second

// Recognizer returns a Recognizer that tries chain in order. An utterance
// keeps a copy of its audio (up to MaxReplay); when its provider fails in
// Start, Write or Finish, the next provider is started and the audio so far
// replayed into it. Unlike Generator and Synthesizer this may happen after
// partials were returned: partials are provisional, only Finish's transcript
// is final, and the provider that answered is the one whose transcript
// Finish returned. A chain of one is returned unwrapped. A nil logger logs
// nothing.
func Recognizer(logger *zap.Logger, chain ...pipeline.Recognizer) (pipeline.Recognizer, error) {
	if len(chain) == 0 {
		return nil, errEmpty
	}
	if len(chain) == 1 {
		return chain[0], nil
	}
	ms := members(chain)
	return &recognizer{chain: ms, name: chainName(ms), log: nopIfNil(logger), max: audio.Mono16k.Samples(MaxReplay)}, nil
}

type recognizer struct {
	chain []member[pipeline.Recognizer]
	name  string
	log   *zap.Logger
	max   int
}

// Name is the members' names joined by ">".
func (r *recognizer) Name() string { return r.name }

func (r *recognizer) Start(ctx context.Context) (pipeline.Utterance, error) {
	u := &utterance{r: r, ctx: ctx, idx: -1}
	if err := u.advance(nil); err != nil {
		return nil, err
	}
	return u, nil
}

type utterance struct {
	r *recognizer
	// ctx is Start's: the utterance's lifetime, used to start a later
	// provider when one fails inside Write (which has no ctx of its own).
	ctx    context.Context
	idx    int
	cur    pipeline.Utterance
	replay []int16
	why    failed
	closed bool
}

// advance closes the current provider (which failed with err, nil for the
// first call) and starts the next one that takes the replayed audio.
func (u *utterance) advance(err error) error {
	if u.cur != nil {
		_ = u.cur.Close()
		u.cur = nil
	}
	for u.idx+1 < len(u.r.chain) {
		if err != nil {
			if !switchable(u.ctx) {
				return err
			}
			u.why.add(u.r.chain[u.idx].name, err)
			logSwitch(u.r.log, pipeline.StageASR, u.r.chain[u.idx].name, u.r.chain[u.idx+1].name, err)
		}
		u.idx++
		next, serr := u.r.chain[u.idx].provider.Start(u.ctx)
		if serr != nil {
			err = serr
			continue
		}
		if len(u.replay) > 0 {
			if _, werr := next.Write(u.replay); werr != nil {
				_ = next.Close()
				err = werr
				continue
			}
		}
		u.cur = next
		return nil
	}
	if len(u.why) > 0 {
		u.why.add(u.r.chain[u.idx].name, err)
	}
	return u.why.final(err)
}

// Write feeds the current provider and keeps a copy for replay.
func (u *utterance) Write(samples []int16) (string, error) {
	if u.cur == nil {
		return "", fmt.Errorf("fallback: Write on a finished or failed utterance")
	}
	if room := u.r.max - len(u.replay); room > 0 {
		u.replay = append(u.replay, samples[:min(room, len(samples))]...)
	}
	partial, err := u.cur.Write(samples)
	if err == nil {
		return partial, nil
	}
	if err := u.advance(err); err != nil {
		return "", err
	}
	return "", nil
}

// Finish returns the first transcript a provider in the chain produces.
func (u *utterance) Finish(ctx context.Context) (string, error) {
	for {
		if u.cur == nil {
			return "", fmt.Errorf("fallback: Finish on a finished or failed utterance")
		}
		text, err := u.cur.Finish(ctx)
		if err == nil {
			pipeline.Answered(ctx, u.r.chain[u.idx].name)
			return text, nil
		}
		if ctx.Err() != nil {
			return "", err
		}
		if err := u.advance(err); err != nil {
			return "", err
		}
	}
}

// Close closes the current provider's utterance. It is idempotent.
func (u *utterance) Close() error {
	if u.closed {
		return nil
	}
	u.closed = true
	u.replay = nil
	if u.cur == nil {
		return nil
	}
	err := u.cur.Close()
	u.cur = nil
	return err
}
