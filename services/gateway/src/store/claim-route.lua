-- claim-route.lua: give a gateway a route (a bus partition that it alone consumes), or renew it.
-- One HASH for every gateway, so the script touches one key (one Redis Cluster slot).
--
-- KEYS[1] routes HASH: route -> `<gatewayId>|<lease expiry, ms of Redis server time>`
-- ARGV[1] gatewayId
-- ARGV[2] number of routes (the bus's partitions)
-- ARGV[3] lease, ms
-- ARGV[4] the route this gateway already uses, or -1 on its first claim
-- Returns {route, exclusive (0|1)}.
--
-- A renewal never moves a gateway: its sessions are registered under its route. When another
-- gateway took the route meanwhile (this one stalled past its lease), both consume it and neither
-- is exclusive until one lease lapses. A first claim takes the lowest free route, or shares one
-- when all are taken (correct, only less efficient: each then reads the other's records too).

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local me = ARGV[1]
local count = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
local current = tonumber(ARGV[4])

local function holder(route)
  local value = redis.call('HGET', KEYS[1], tostring(route))
  if not value then
    return nil
  end
  local sep = string.find(value, '|[^|]*$')
  local expires = tonumber(string.sub(value, sep + 1))
  if expires <= now then
    return nil
  end
  return string.sub(value, 1, sep - 1)
end

local function take(route)
  redis.call('HSET', KEYS[1], tostring(route), me .. '|' .. string.format('%d', now + lease))
  return { route, 1 }
end

if current >= 0 then
  local owner = holder(current)
  if owner == nil or owner == me then
    return take(current)
  end
  return { current, 0 }
end

for route = 0, count - 1 do
  local owner = holder(route)
  if owner == nil or owner == me then
    return take(route)
  end
end
-- Every route is held: share one, picked from the gateway id so shared load spreads.
local hash = 0
for i = 1, #me do
  hash = (hash * 31 + string.byte(me, i)) % 2147483647
end
return { hash % count, 0 }
