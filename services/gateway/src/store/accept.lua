-- accept.lua: store one message in the recipient's mailbox, atomically with the sender's
-- idempotency record and the recipient's presence check (docs/protocol.md: "Idempotency records are
-- stored in the same atomic step as the message").
--
-- KEYS[1] sender's idempotency key (…:{u:<sender>}:idem:<cid>); an untouched placeholder when ARGV[1] == '0'
-- KEYS[2] recipient's mailbox ZSET (score = seq, member = message id)
-- KEYS[3] recipient's message HASH (id -> StoredMessage JSON)
-- KEYS[4] recipient's seq counter (never expires: a reset would break the snapshot/live boundary)
-- KEYS[5] recipient's sessions ZSET (score = lease expiry, ms of Redis server time)
-- ARGV[1] '1' when the request carries a cid, else '0'
-- ARGV[2] message id
-- ARGV[3] ts, integer milliseconds, as decimal text
-- ARGV[4] the message as JSON without seq; this script appends "seq" before the closing brace
-- ARGV[5] mailboxMax
-- ARGV[6] mailbox retention, seconds (counted from the newest accepted message)
-- ARGV[7] idempotency TTL, seconds
-- ARGV[8] recipient user id (kept in the idempotency record)
-- ARGV[9] the accepting gateway's exclusive route, or -1: when every live session of the recipient
--         is reached through it, the message is delivered in process and the cid settles as 'sent'
-- Returns {'duplicate', recordJson} | {'mailbox_full'} | {'stored', seq, online (0|1), route...}
-- where the routes are those of the recipient's live sessions, each once. Session members are
-- `<route>|<gatewayId>|<sessionId>`.
--
-- Cluster caveat: with a cid, KEYS[1] lives in the SENDER's hash slot and KEYS[2..5] in the
-- recipient's, so on Redis Cluster this script fails with CROSSSLOT unless sender == recipient.
-- We run standalone Redis, where it is atomic as written. Moving to Cluster needs the idempotency
-- record keyed in the recipient's slot (losing "whatever `to` the repeat carries") or a two-step
-- reservation in the sender's slot.
-- Needs Redis >= 5 (effects replication), as TIME is read before writes.

local hasCid = ARGV[1] == '1'
if hasCid then
  local record = redis.call('GET', KEYS[1])
  if record then
    return { 'duplicate', record }
  end
end

if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then
  return { 'mailbox_full' }
end

local seq = redis.call('INCR', KEYS[4])
local stored = string.sub(ARGV[4], 1, -2) .. ',"seq":' .. string.format('%d', seq) .. '}'
redis.call('ZADD', KEYS[2], seq, ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], stored)
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('EXPIRE', KEYS[3], ARGV[6])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[5], '(' .. string.format('%d', now), '+inf')
local online = #live > 0
local reply = { 'stored', seq, online and 1 or 0 }
local localRoute = tonumber(ARGV[9])
local allLocal = online
local seen = {}
for _, member in ipairs(live) do
  local route = tonumber(string.match(member, '^(%d+)|'))
  if route ~= nil and not seen[route] then
    seen[route] = true
    reply[#reply + 1] = route
    if route ~= localRoute then
      allLocal = false
    end
  end
end

if hasCid then
  -- 'pending' until the gateway settles the publish (settle-status.lua): a repeat that finds it
  -- pending publishes the message again, in case the first gateway died before publishing.
  local status = 'queued'
  if allLocal then
    status = 'sent'
  elseif online then
    status = 'pending'
  end
  -- Built by hand, not cjson.encode: cjson prints numbers with 14 significant digits.
  -- Status stays the last field: settle-status.lua rewrites it by suffix.
  local record = '{"id":' .. cjson.encode(ARGV[2]) .. ',"ts":' .. ARGV[3] .. ',"to":' .. cjson.encode(ARGV[8])
    .. ',"status":"' .. status .. '"}'
  redis.call('SET', KEYS[1], record, 'EX', ARGV[7])
end

return reply
