-- open-session.lua: register a session lease unless the user already holds the maximum.
-- Lease times are Redis server time, never a gateway clock, so gateways with skewed clocks agree.
--
-- KEYS[1] user's sessions ZSET (member = gatewayId|sessionId, score = lease expiry ms)
-- KEYS[2] user's seq counter (read only)
-- ARGV[1] member
-- ARGV[2] lease, ms
-- ARGV[3] maxConnectionsPerUser
-- Returns the user's current seq (>= 0) when opened (or already open: its lease is renewed),
-- -1 when at the cap. Every message with a seq above the returned one is accepted after this
-- lease exists, so it is published live: the session needs no gap repair to start live delivery.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[2])

-- Leases of killed gateways end here: no cleanup job needed.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return -1
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
-- Every lease ends within `lease`, so the key outlives them all and still vanishes for idle users.
redis.call('PEXPIRE', KEYS[1], lease * 2)
return tonumber(redis.call('GET', KEYS[2]) or '0')
