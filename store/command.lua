-- Records a command for its device, unless its id was already used for
-- the device and that command's deadline has not passed (returns 0, writes
-- nothing). Otherwise it reserves the id until the deadline, appends the
-- command to the device's command stream and to the outbox, publishes its
-- frame, and returns 1.
-- KEYS[1] the device's used ids (sorted set: member id, score deadline in
-- unix ms), KEYS[2] the device's command stream, KEYS[3] the outbox.
-- ARGV: id, deadline (unix ms), command JSON, stream maxlen, outbox maxlen,
-- channel, frame. Only the cloud runs it (store.SendCommand).
if #KEYS ~= 3 or #ARGV ~= 7 or not tonumber(ARGV[2]) then
  return redis.error_reply('ERR command: malformed arguments')
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Ids whose deadline has passed are forgotten: the edge refuses a late
-- copy of their command as expired anyway.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1]) == 0 then
  return 0
end
-- The set lives as long as its latest deadline.
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('EXPIRE', KEYS[1], math.max(1, math.ceil((tonumber(top[2]) - now) / 1000) + 1))
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'c', ARGV[3])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'c', ARGV[3])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
