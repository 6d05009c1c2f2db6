/**
 * RedisStore on real Redis: the shared contract, then what only Redis can get wrong (key layout,
 * TTLs, large mailboxes, an unreachable server). Keys use a run-unique prefix and are deleted at the end.
 */
import Redis from 'ioredis';
import { RedisStore } from '../../services/gateway/src/store/redis';
import { describeMailboxStoreContract, freshUser } from '../../services/gateway/src/store/store.contract';
import { gw } from '../../services/gateway/src/store/contract-support';
import type { StoreLimits } from '../../services/gateway/src/store/store';
import { redisUrl, uniqueName } from '../support/infra';

const keyPrefix = uniqueName('pbtest');
const redis = new Redis(redisUrl(), { enableAutoPipelining: true, lazyConnect: true });

const limits: StoreLimits = {
  mailboxMax: 20_000,
  mailboxRetentionSeconds: 600,
  idempotencyTtlSeconds: 600,
  presenceLeaseMs: 30_000,
  maxConnectionsPerUser: 10,
};

async function deleteKeys(pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

async function keysOf(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

/** Redis Cluster hashes only the part between the first `{` and the next `}`. */
function hashTag(key: string): string | undefined {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : undefined;
}

beforeAll(async () => {
  await redis.connect();
});

afterAll(async () => {
  await deleteKeys(`${keyPrefix}*`);
  await redis.quit();
});

// A prefix per store, as the memory store is fresh per test: gateway routes are global to a prefix.
let stores = 0;
describeMailboxStoreContract('RedisStore', async (contractLimits) => ({
  store: new RedisStore(redis, { keyPrefix: `${keyPrefix}-${(stores += 1)}`, limits: contractLimits }),
  cleanup: async () => {},
}));

describe('RedisStore specifics', () => {
  const store = new RedisStore(redis, { keyPrefix, limits });

  it('keeps every key of one user under the same {u:user} hash tag', async () => {
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    await store.openSession({ user: bob, sessionId: 's1' }, gw('gw-a'));
    await store.accept({ id: 'm1', from: alice, to: bob, body: 'x', ts: Date.now(), cid: 'c-1' });
    await store.accept({ id: 'm2', from: bob, to: bob, body: 'x', ts: Date.now(), cid: 'c-2' });

    const bobKeys = await keysOf(`${keyPrefix}:*${bob}*`);
    expect(bobKeys).toEqual(
      ['idem:c-2', 'mbox', 'msgs', 'seq', 'sessions'].map((suffix) => `${keyPrefix}:{u:${bob}}:${suffix}`),
    );
    expect(new Set(bobKeys.map(hashTag))).toEqual(new Set([`u:${bob}`]));
    // The sender's idempotency record sits in the sender's slot (the Cluster caveat of accept.lua).
    expect(await keysOf(`${keyPrefix}:*${alice}*`)).toEqual([`${keyPrefix}:{u:${alice}}:idem:c-1`]);
  });

  it('gives the counter no TTL, and the mailbox, sessions and idempotency records one', async () => {
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    await store.openSession({ user: bob, sessionId: 's1' }, gw('gw-a'));
    await store.accept({ id: 'm1', from: alice, to: bob, body: 'x', ts: Date.now(), cid: 'c-ttl' });
    const key = (user: string, suffix: string) => `${keyPrefix}:{u:${user}}:${suffix}`;
    expect(await redis.ttl(key(bob, 'seq'))).toBe(-1);
    for (const suffix of ['mbox', 'msgs']) {
      expect(await redis.ttl(key(bob, suffix))).toBeGreaterThan(limits.mailboxRetentionSeconds - 10);
    }
    expect(await redis.pttl(key(bob, 'sessions'))).toBeGreaterThan(limits.presenceLeaseMs);

    const idem = key(alice, 'idem:c-ttl');
    await redis.expire(idem, 100);
    await store.settleStatus(alice, 'c-ttl', 'queued');
    expect(await redis.ttl(idem)).toBeGreaterThan(90);
    expect(await redis.ttl(idem)).toBeLessThanOrEqual(100);
    expect(JSON.parse((await redis.get(idem)) ?? 'null')).toMatchObject({ id: 'm1', status: 'queued' });
  });

  it('acks one id from the middle of a 10,000-message mailbox', async () => {
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    const ids = Array.from({ length: 10_000 }, (_, i) => `m-${String(i).padStart(5, '0')}`);
    // Concurrent accepts: auto-pipelining batches them, and seq order still follows issue order.
    await Promise.all(ids.map((id) => store.accept({ id, from: alice, to: bob, body: id, ts: Date.now() })));
    expect(await store.mailboxDepth(bob)).toBe(10_000);

    await store.ack(bob, ['m-05000']);
    expect(await store.mailboxDepth(bob)).toBe(9_999);
    const around = await store.readMailbox(bob, 4_998, 3);
    expect(around.map((message) => message.id)).toEqual(['m-04998', 'm-04999', 'm-05001']);
    expect(await redis.hexists(`${keyPrefix}:{u:${bob}}:msgs`, 'm-05000')).toBe(0);
  }, 60_000);

  it('reads past a mailbox id whose body is missing and drops it', async () => {
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    for (const id of ['m1', 'm2', 'm3']) await store.accept({ id, from: alice, to: bob, body: id, ts: 1 });
    await redis.hdel(`${keyPrefix}:{u:${bob}}:msgs`, 'm1', 'm2');
    expect((await store.readMailbox(bob, 0, 1)).map((message) => message.id)).toEqual(['m3']);
    expect(await store.mailboxDepth(bob)).toBe(1);
  });

  it('renews 10,000 sessions in one call', async () => {
    const users = Array.from({ length: 10_000 }, (_, i) => ({ user: freshUser(`u${i}`), sessionId: 's' }));
    await Promise.all(users.map((session) => store.openSession(session, gw('gw-bulk'))));
    await store.renewSessions(users, gw('gw-bulk'));
    const sample = users.slice(0, 100).map((session) => session.user);
    expect([...(await store.presence(sample)).values()].every(Boolean)).toBe(true);
  }, 60_000);

  it('rejects a malformed keyPrefix', () => {
    expect(() => new RedisStore(redis, { keyPrefix: 'a{b}', limits })).toThrow(/keyPrefix/);
  });
});

describe('RedisStore when Redis is down', () => {
  const down = new Redis({
    port: 1,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  const store = new RedisStore(down, { keyPrefix, limits });

  afterAll(() => down.disconnect());

  it('rejects instead of answering, and ping says false', async () => {
    await down.connect().catch(() => undefined);
    await expect(store.accept({ id: 'm1', from: 'a', to: 'b', body: 'x', ts: 1 })).rejects.toThrow();
    await expect(store.readMailbox('b', 0, 10)).rejects.toThrow();
    await expect(store.openSession({ user: 'b', sessionId: 's' }, gw('gw'))).rejects.toThrow();
    await expect(store.presence(['b'])).rejects.toThrow();
    expect(await store.ping()).toBe(false);
  });
});
