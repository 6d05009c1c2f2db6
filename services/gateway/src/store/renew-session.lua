-- renew-session.lua: extend one held session's lease from Redis server time.
-- Plain ZADD, not XX: a session this gateway still holds is online (docs/protocol.md: until its last
-- connection closes), even if its lease lapsed while the gateway or Redis stalled; the renewal
-- restores it. A close racing a renewal cannot resurrect a session for long: the gateway issues a
-- session's ZREM after any renewal that listed it, on the same connection, so at worst the lease
-- runs out by itself.
--
-- KEYS[1] user's sessions ZSET
-- ARGV[1] member (gatewayId|sessionId)
-- ARGV[2] lease, ms
-- Returns 1.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[2])

redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease * 2)
return 1
