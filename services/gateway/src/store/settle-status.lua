-- settle-status.lua: rewrite only the status of an idempotency record, keeping its TTL, so a
-- repeat of the cid answers what the first send finally answered ('sent' that could not be
-- published becomes 'queued', a 'pending' one that was published becomes 'sent').
--
-- KEYS[1] sender's idempotency key
-- ARGV[1] 'sent' | 'queued'
-- Returns 1 when rewritten, 0 when the record is gone (expired: nothing left to settle).

local record = redis.call('GET', KEYS[1])
if not record then
  return 0
end
-- accept.lua always writes status as the last field, so the suffix identifies it exactly.
local rewritten, count = string.gsub(record, '"status":"%a+"}$', '"status":"' .. ARGV[1] .. '"}')
if count ~= 1 then
  return redis.error_reply('postbox: malformed idempotency record at ' .. KEYS[1])
end
redis.call('SET', KEYS[1], rewritten, 'XX', 'KEEPTTL')
return 1
