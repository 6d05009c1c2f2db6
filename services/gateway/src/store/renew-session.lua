-- renew-session.lua: extend one session's lease from Redis server time.
-- ZADD XX: a renew racing a closeSession must not resurrect the closed session. The flip side:
-- a session whose lease was already pruned (gateway stalled past its lease) stays offline.
--
-- KEYS[1] user's sessions ZSET
-- ARGV[1] member (gatewayId|sessionId)
-- ARGV[2] lease, ms
-- Returns 1 when renewed, 0 when the session is no longer registered.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[2])

if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease * 2)
return 1
