package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Reading what a device could write. A device's Redis user (deploy/redis)
// may write anything to its own keys, up to Redis's 512 MB a value, so
// readers bound what they take from Redis by bytes, not only by entries:
// stream entries are read through readStreamScript, which leaves out, in
// Redis, every value longer than a valid one can be; hashes are read whole
// only below a byte size that MEMORY USAGE tells first.

// readStreamScript reads a range of a stream and returns, per entry, its
// id and then the named fields' values, each as stored if at most the
// byte limit long, as its length (an integer) if longer, and as nil if
// absent. Values longer than the limit never leave Redis.
// KEYS[1] stream. ARGV: XRANGE or XREVRANGE, from, to, count, byte limit,
// then the field names (none: ids only).
// Once in Redis's script cache, a device's user may run it too (on its own
// keys only): it runs nothing but XRANGE or XREVRANGE, and at most 1000
// entries a call, since Redis runs nothing else meanwhile.
var readStreamScript = redis.NewScript(`
if ARGV[1] ~= 'XRANGE' and ARGV[1] ~= 'XREVRANGE' then
  return redis.error_reply('ERR read: XRANGE or XREVRANGE only')
end
local count = tonumber(ARGV[4])
if not count or count < 1 or count > 1000 then
  return redis.error_reply('ERR read: a count of 1 to 1000 entries')
end
local es = redis.call(ARGV[1], KEYS[1], ARGV[2], ARGV[3], 'COUNT', count)
local max = tonumber(ARGV[5])
local out = {}
for i, e in ipairs(es) do
  local row = {e[1]}
  local f = e[2]
  for n = 6, #ARGV do
    local v = false
    for j = 1, #f, 2 do
      if f[j] == ARGV[n] then
        v = f[j + 1]
        if #v > max then v = #v end
        break
      end
    end
    row[n - 4] = v
  end
  out[i] = row
end
return out
`)

// streamEntry is an entry as readStreamScript returns it.
type streamEntry struct {
	ID     string
	Values []any // per field asked for: string, int64 (the length of a value over the limit), or nil (absent)
}

// readStream runs readStreamScript: cmd is "XRANGE" or "XREVRANGE".
func (s *Store) readStream(ctx context.Context, key, cmd, from, to string, count int64, limit int, fields ...string) ([]streamEntry, error) {
	args := make([]any, 0, 5+len(fields))
	args = append(args, cmd, from, to, count, limit)
	for _, f := range fields {
		args = append(args, f)
	}
	v, err := s.runScript(ctx, readStreamScript, []string{key}, args...).Slice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]streamEntry, 0, len(v))
	for _, e := range v {
		row, ok := e.([]any)
		if !ok || len(row) != 1+len(fields) {
			return nil, fmt.Errorf("unexpected reply from the stream script: %T of %d", e, len(row))
		}
		id, _ := row[0].(string)
		out = append(out, streamEntry{ID: id, Values: row[1:]})
	}
	return out, nil
}

// isWrongType reports whether err is Redis refusing a command on a key of
// another type.
func isWrongType(err error) bool { return err != nil && redis.HasErrorPrefix(err, "WRONGTYPE") }
