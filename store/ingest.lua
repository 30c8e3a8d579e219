-- Idempotent ingest of a batch of readings of one device.
-- KEYS[1] history stream, KEYS[2] latest hash, KEYS[3] latest-time hash,
-- KEYS[4] dedup bitmap (a ring of K blocks of B seqs), KEYS[5] dedup head
-- hash (seq: the highest seq the ring covers; ts: the newest ts stored).
-- ARGV: channel, maxlen, maxage_ms, dedup_ttl_s, future_ms, n, then n times:
--   seq (decimal), series ("sensor/metric"), ts_ms, reading JSON.
-- A series' latest reading is the one with the newest ts (not the highest
-- seq: a device whose seq restarted must not freeze its latest values).
-- Returns {stored, now_ms, status}: status has one letter per reading,
-- s stored, d duplicate, o refused (seq behind the dedup window and ts not
-- after the newest stored: a late repeat), f refused (ts more than
-- future_ms ahead of Redis time). A seq behind the window with a ts after
-- every stored one is a device whose seqs restarted (a lost state dir): it
-- opens a new window.
--
-- Seqs are uint64, beyond what a Lua number (a double) holds exactly, so
-- they stay decimal strings: compared by length then bytes, and split in
-- two halves below 2^53 to find their block and bit (see split).
local B, K = 4096, 16 -- keep in step with seqBlock and seqBlocks in store.go
-- A run holds the whole server: a device's user may call this script, so
-- it takes at most MAXN readings of at most MAXJSON bytes (store.go:
-- maxScriptBatch, maxScriptJSON).
local MAXN, MAXJSON = 1000, 1024
local channel = ARGV[1]
local maxlen = tonumber(ARGV[2])
local maxage = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local future = tonumber(ARGV[5])
local n = tonumber(ARGV[6])
if #KEYS ~= 5 or not (maxlen and maxage and ttl and future and n) or ttl < 1 or n < 0 or #ARGV ~= 6 + n * 4 then
  return redis.error_reply('ERR ingest: malformed arguments')
end
if n > MAXN then
  return redis.error_reply('ERR ingest: ' .. n .. ' readings in one call, limit ' .. MAXN)
end

local function validseq(s)
  return string.find(s, '^[1-9][0-9]*$') ~= nil and (#s < 20 or (#s == 20 and s <= '18446744073709551615'))
end
local function seqless(a, b)
  if #a ~= #b then
    return #a < #b
  end
  return a < b
end
-- split returns seq's block (seq div B) and bit (seq mod B), exactly:
-- seq = hi*10^9 + lo and 10^9 = 244140*B + 2560, so
-- seq = B*hi*244140 + r with r = hi*2560 + lo < 2^53.
local function split(s)
  local hi, lo = 0, tonumber(s)
  if #s > 9 then
    hi, lo = tonumber(string.sub(s, 1, -10)), tonumber(string.sub(s, -9))
  end
  local r = hi * 2560 + lo
  return hi * 244140 + math.floor(r / B), r % B
end

-- Check everything before writing anything.
for i = 0, n - 1 do
  local a = 7 + i * 4
  if not validseq(ARGV[a]) or not tonumber(ARGV[a + 2]) or ARGV[a + 3] == '' or #ARGV[a + 3] > MAXJSON or #ARGV[a + 1] > MAXJSON then
    return redis.error_reply('ERR ingest: malformed reading ' .. (i + 1))
  end
end

-- Keys of the wrong type (only the device's own raw writes make them)
-- would fail every ingest of the device: they are dropped.
local kinds = {'stream', 'hash', 'hash', 'string', 'hash'}
for i = 1, 5 do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t ~= 'none' and t ~= kinds[i] then
    redis.call('DEL', KEYS[i])
  end
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lastseq = redis.call('HGET', KEYS[2], 'seq')
if not lastseq or not validseq(lastseq) then
  lastseq = '0'
end
local hd = redis.call('HMGET', KEYS[5], 'seq', 'ts')
local head, maxts = hd[1], tonumber(hd[2] or '')
local hb
if head and validseq(head) and maxts then
  hb = split(head)
else
  head, maxts = nil, nil
end
local zeros = string.rep('\0', B / 8)
local status = {}
local stored, old, ahead = 0, 0, 0
for i = 0, n - 1 do
  local a = 7 + i * 4
  local seq, series, ts, json = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3]
  local b, bit = split(seq)
  local st
  if future >= 0 and ts > now + future then
    st = 'f'
    ahead = ahead + 1
  elseif head and b <= hb - K and ts <= maxts then
    st = 'o'
    old = old + 1
  else
    if head and b <= hb - K then
      head = nil -- the seqs restarted
    end
    if not head then
      -- A new window (or one that expired): forget any bits left over.
      redis.call('DEL', KEYS[4])
      head, hb = seq, b
    elseif b > hb then
      -- The window moves up: the blocks it enters start empty.
      if b - hb >= K then
        redis.call('DEL', KEYS[4])
      else
        local size = redis.call('STRLEN', KEYS[4])
        for x = hb + 1, b do
          local off = (x % K) * B / 8
          if off < size then
            redis.call('SETRANGE', KEYS[4], off, zeros)
          end
        end
      end
      head, hb = seq, b
    elseif b == hb and seqless(head, seq) then
      head = seq
    end
    if redis.call('SETBIT', KEYS[4], (b % K) * B + bit, 1) == 0 then
      if maxlen >= 0 then
        redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'r', json)
      else
        redis.call('XADD', KEYS[1], '*', 'r', json)
      end
      local prev = tonumber(redis.call('HGET', KEYS[3], series) or '-1') or -1
      if ts >= prev then
        redis.call('HSET', KEYS[2], series, json)
        redis.call('HSET', KEYS[3], series, ARGV[a + 2])
      end
      if seqless(lastseq, seq) then
        lastseq = seq
      end
      if not maxts or ts > maxts then
        maxts = ts
      end
      redis.call('PUBLISH', channel, json)
      stored = stored + 1
      st = 's'
    else
      st = 'd'
    end
  end
  status[i + 1] = st
end
if stored > 0 then
  redis.call('HSET', KEYS[2], 'seen', now, 'seq', lastseq)
  redis.call('HSET', KEYS[5], 'seq', head, 'ts', string.format('%d', maxts))
  redis.call('EXPIRE', KEYS[5], ttl)
  redis.call('EXPIRE', KEYS[4], ttl)
  if maxage > 0 then
    redis.call('XTRIM', KEYS[1], 'MINID', '~', now - maxage)
  end
end
if old > 0 then
  redis.call('HINCRBY', KEYS[2], 'refused:too_old', old)
end
if ahead > 0 then
  redis.call('HINCRBY', KEYS[2], 'refused:future', ahead)
end
return {stored, now, table.concat(status)}
