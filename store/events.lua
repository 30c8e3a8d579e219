-- Appends a device's command events (command.Event JSON) to its events
-- stream and publishes each one's ready frame (reading.FrameCommand) on the
-- device's events channel, in order.
-- KEYS[1] events stream. ARGV: channel, maxlen, n, then n times: event
-- JSON, frame JSON. Returns the number of events appended.
-- A device's user may call this script directly (EVALSHA), so it checks its
-- arguments: at most MAXN events of at most MAXJSON bytes each (store:
-- maxEventBatch, maxEventJSON). The cloud validates every frame it relays.
local MAXN, MAXJSON = 100, 1100
local channel = ARGV[1]
local maxlen = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
if #KEYS ~= 1 or not (maxlen and n) or maxlen < 1 or n < 0 or #ARGV ~= 3 + n * 2 then
  return redis.error_reply('ERR events: malformed arguments')
end
if n > MAXN then
  return redis.error_reply('ERR events: ' .. n .. ' events in one call, limit ' .. MAXN)
end
for i = 0, n - 1 do
  local a = 4 + i * 2
  if ARGV[a] == '' or #ARGV[a] > MAXJSON or ARGV[a + 1] == '' or #ARGV[a + 1] > MAXJSON then
    return redis.error_reply('ERR events: malformed event ' .. (i + 1))
  end
end
-- A key of another type (only the device's own raw writes make one) would
-- fail every report of the device: it is dropped.
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'none' and t ~= 'stream' then
  redis.call('DEL', KEYS[1])
end
for i = 0, n - 1 do
  local a = 4 + i * 2
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'e', ARGV[a])
  redis.call('PUBLISH', channel, ARGV[a + 1])
end
return n
