-- presence.lua: number of unexpired leases of one user, against Redis server time.
--
-- KEYS[1] user's sessions ZSET
-- Returns the count (0 = offline).

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%d', now), '+inf')
