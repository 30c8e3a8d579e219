package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tributary-iot/tributary/fanout"
)

// messages returns the handler of the messages a WebSocket client sends
// besides subscribe: commands, sent by id (the connection's identity,
// fixed at the upgrade). Each is answered to that client alone, with the
// command as recorded ({"v":1,"type":"command","command":{...}}) or an
// error frame naming it; the connection stays open. The command's progress
// then reaches every client selecting its device (Hub.PublishEvent). A
// connection may send CommandBurst commands at once, then one every
// CommandEvery. A message of an unknown type closes the client (1008), as
// a malformed subscribe does.
func (s *server) messages(id identity) fanout.MessageHandler {
	lim := &tokenBucket{burst: CommandBurst, every: CommandEvery, now: s.opt.Now}
	return func(ctx context.Context, msg []byte, reply func([]byte)) error {
		var head struct {
			Type string `json:"type"`
			ID   any    `json:"id"`
		}
		json.Unmarshal(msg, &head) // the hub has parsed its type already
		if head.Type != "command" {
			return fmt.Errorf("bad message: type %s, want \"subscribe\" or \"command\"", clipQuote(head.Type, 40))
		}
		cid, _ := head.ID.(string)
		answer := func(err error) error {
			reply(errorFrame(err.Error(), cid))
			return nil
		}
		if s.opt.Commands == nil {
			return answer(errors.New("this server takes no commands"))
		}
		if !lim.take() {
			return answer(fmt.Errorf("too many commands on this connection: at most %d at once, then one every %v", CommandBurst, CommandEvery))
		}
		if len(msg) > MaxCommandBody {
			return answer(fmt.Errorf("a command is at most %d bytes", MaxCommandBody))
		}
		var m commandMessage
		if err := decodeStrict(msg, &m); err != nil {
			return answer(err)
		}
		c, err := s.newCommand(ctx, id, m.Device, m.commandBody, nil)
		if err != nil {
			if c.ID != "" {
				cid = c.ID
			}
			return answer(err)
		}
		reply(commandFrame(c))
		return nil
	}
}

// tokenBucket allows burst events at once, then one every every. It is
// safe for concurrent use.
type tokenBucket struct {
	burst int
	every time.Duration
	now   func() time.Time

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// take reports whether an event may happen now, and counts it if so.
func (b *tokenBucket) take() bool { return b.wait() == 0 }

// wait counts an event and returns 0 if it may happen now; else it counts
// nothing and returns how long until it may.
func (b *tokenBucket) wait() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if b.last.IsZero() {
		b.tokens = float64(b.burst)
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens = min(float64(b.burst), b.tokens+float64(d)/float64(b.every))
	}
	b.last = now
	if b.tokens < 1 {
		return max(time.Duration((1-b.tokens)*float64(b.every)), time.Nanosecond)
	}
	b.tokens--
	return 0
}

// full reports whether the bucket has refilled: forgetting it changes nothing.
func (b *tokenBucket) full(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last.IsZero() || now.Sub(b.last) >= time.Duration(b.burst)*b.every
}

// userLimits holds a token bucket per user for the commands they post.
// Users are authenticated (or the one anonymous sender), so there are few;
// refilled buckets are dropped once there are maxUserLimits.
type userLimits struct {
	mu sync.Mutex
	m  map[string]*tokenBucket
}

const maxUserLimits = 4096

// wait counts a command of user: 0 if it may be sent now, else how long
// until one may (CommandBurst at once, then one every CommandEvery).
func (l *userLimits) wait(user string, now func() time.Time) time.Duration {
	l.mu.Lock()
	b := l.m[user]
	if b == nil {
		if l.m == nil {
			l.m = map[string]*tokenBucket{}
		}
		if len(l.m) >= maxUserLimits {
			t := now()
			for u, o := range l.m {
				if o.full(t) {
					delete(l.m, u)
				}
			}
		}
		b = &tokenBucket{burst: CommandBurst, every: CommandEvery, now: now}
		l.m[user] = b
	}
	l.mu.Unlock()
	return b.wait()
}
