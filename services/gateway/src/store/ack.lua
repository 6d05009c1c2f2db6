-- ack.lua: remove acknowledged ids from one user's mailbox. ZREM and HDEL by member are
-- O(log n) / O(1) per id whatever their position, so out-of-order acks never scan the mailbox.
-- Unknown or already removed ids are ignored.
--
-- KEYS[1] mailbox ZSET of the acknowledging user
-- KEYS[2] message HASH of the acknowledging user
-- ARGV    the ids (at least one)
-- Returns the number of ids removed from the mailbox.

local removed = 0
-- unpack() of thousands of values can overflow the Lua C stack: go in chunks.
for first = 1, #ARGV, 500 do
  local last = math.min(first + 499, #ARGV)
  removed = removed + redis.call('ZREM', KEYS[1], unpack(ARGV, first, last))
  redis.call('HDEL', KEYS[2], unpack(ARGV, first, last))
end
return removed
