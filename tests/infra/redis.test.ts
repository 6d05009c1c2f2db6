/** The real Redis runs Lua atomically and, on the native stack, persists with AOF. */
import Redis from 'ioredis';
import { redisUrl, uniqueName } from '../support/infra';

// KEYS[1] counter, KEYS[2] list; ARGV[1] value. Appends "<seq>:<value>", returns the new seq.
const APPEND_WITH_SEQ = `
local seq = redis.call('INCR', KEYS[1])
redis.call('RPUSH', KEYS[2], seq .. ':' .. ARGV[1])
return seq
`;

describe('redis (real server)', () => {
  const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 2 });
  const prefix = uniqueName('pb-test');
  const keys = [`${prefix}:{u:alice}:seq`, `${prefix}:{u:alice}:list`];

  beforeAll(() => redis.connect());
  afterAll(async () => {
    await redis.del(...keys);
    await redis.quit();
  });

  it('runs a Lua script atomically under concurrent calls', async () => {
    const values = Array.from({ length: 50 }, (_, i) => `v${i}`);
    const seqs = await Promise.all(values.map((value) => redis.eval(APPEND_WITH_SEQ, 2, ...keys, value)));
    expect([...seqs].sort((a, b) => Number(a) - Number(b))).toEqual(values.map((_, i) => i + 1));

    const list = await redis.lrange(keys[1] ?? '', 0, -1);
    expect(list).toHaveLength(values.length);
    list.forEach((entry, i) => expect(entry.startsWith(`${i + 1}:`)).toBe(true));
    expect(list.map((entry) => entry.split(':')[1]).sort()).toEqual([...values].sort());
  });

  const aofIt = process.env.REDIS_EXPECT_AOF === '1' ? it : it.skip;
  aofIt('has append-only persistence enabled (REDIS_EXPECT_AOF=1)', async () => {
    expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
  });
});
