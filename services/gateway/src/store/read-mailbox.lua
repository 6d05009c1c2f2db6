-- read-mailbox.lua: one page of a mailbox, oldest first, as one atomic read.
--
-- KEYS[1] mailbox ZSET (score = seq, member = message id)
-- KEYS[2] message HASH (id -> StoredMessage JSON)
-- ARGV[1] afterSeq: only messages with a greater seq
-- ARGV[2] limit (> 0)
-- Returns an array of StoredMessage JSON strings, ordered by seq.
--
-- A mailbox id without a body cannot be delivered (it should not exist: both are written,
-- expired and acked together). It is dropped from the ZSET and the page is topped up, so a
-- short page still means "end of mailbox" to the caller.

local limit = tonumber(ARGV[2])
local after = '(' .. ARGV[1]
local out = {}
while #out < limit do
  local want = math.min(limit - #out, 1000)
  local page = redis.call('ZRANGEBYSCORE', KEYS[1], after, '+inf', 'WITHSCORES', 'LIMIT', 0, want)
  if #page == 0 then
    break
  end
  local ids = {}
  for i = 1, #page, 2 do
    ids[#ids + 1] = page[i]
  end
  local bodies = redis.call('HMGET', KEYS[2], unpack(ids))
  for i = 1, #ids do
    if bodies[i] then
      out[#out + 1] = bodies[i]
    else
      redis.call('ZREM', KEYS[1], ids[i])
    end
  end
  if #ids < want then
    break
  end
  after = '(' .. page[#page]
end
return out
