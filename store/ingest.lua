-- Idempotent ingest of a batch of readings of one device.
-- KEYS[1] history stream, KEYS[2] latest hash, KEYS[3] latest-time hash,
-- KEYS[4..] dedup bitmap blocks.
-- ARGV: channel, maxlen, maxage_ms, dedup_ttl_s, n, then n times:
--   block key index, bit, seq, series ("sensor/metric"), ts_ms, reading JSON.
-- A series' latest reading is the one with the newest ts (not the highest
-- seq: a device whose seq restarted must not freeze its latest values).
-- Returns {stored, now_ms}.
local channel = ARGV[1]
local maxlen = tonumber(ARGV[2])
local maxage = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local n = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Sequence numbers stay strings when written back: Lua formats large
-- numbers with %.14g.
local lastseqs = redis.call('HGET', KEYS[2], 'seq') or '0'
local lastseq = tonumber(lastseqs)
local stored = 0
for i = 0, n - 1 do
  local a = 6 + i * 6
  local bkey = KEYS[tonumber(ARGV[a])]
  local seq = tonumber(ARGV[a + 2])
  local series = ARGV[a + 3]
  local ts = tonumber(ARGV[a + 4])
  local json = ARGV[a + 5]
  if redis.call('SETBIT', bkey, tonumber(ARGV[a + 1]), 1) == 0 then
    redis.call('EXPIRE', bkey, ttl)
    if maxlen >= 0 then
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'r', json)
    else
      redis.call('XADD', KEYS[1], '*', 'r', json)
    end
    local prev = tonumber(redis.call('HGET', KEYS[3], series) or '-1')
    if ts >= prev then
      redis.call('HSET', KEYS[2], series, json)
      redis.call('HSET', KEYS[3], series, ARGV[a + 4])
    end
    if seq > lastseq then
      lastseq = seq
      lastseqs = ARGV[a + 2]
    end
    redis.call('PUBLISH', channel, json)
    stored = stored + 1
  end
end
if stored > 0 then
  redis.call('HSET', KEYS[2], 'seen', now, 'seq', lastseqs)
  if maxage > 0 then
    redis.call('XTRIM', KEYS[1], 'MINID', '~', now - maxage)
  end
end
return {stored, now}
