import { MemoryStore } from './memory';
import { describeMailboxStoreContract } from './store.contract';
import { gw } from './contract-support';

describeMailboxStoreContract('MemoryStore', async (limits) => ({
  store: new MemoryStore({ limits }),
  cleanup: async () => {},
}));

describe('MemoryStore with an injected clock', () => {
  it('expires leases and idempotency records on the injected clock only', async () => {
    let now = 1_000_000;
    const limits = {
      mailboxMax: 10,
      mailboxRetentionSeconds: 60,
      idempotencyTtlSeconds: 10,
      presenceLeaseMs: 1000,
      maxConnectionsPerUser: 1,
    };
    const store = new MemoryStore({ limits, now: () => now });
    await store.openSession({ user: 'bob', sessionId: 's1' }, gw('gw'));
    const first = await store.accept({ id: 'm1', from: 'alice', to: 'bob', body: 'x', ts: 1, cid: 'c' });
    expect(first).toMatchObject({ kind: 'stored', online: true });

    now += 999;
    expect((await store.presence(['bob'])).get('bob')).toBe(true);
    now += 1;
    expect((await store.presence(['bob'])).get('bob')).toBe(false);

    now += 10_000 - 1000 - 1;
    expect(
      await store.accept({ id: 'm2', from: 'alice', to: 'bob', body: 'x', ts: 2, cid: 'c' }),
    ).toMatchObject({
      kind: 'duplicate',
      id: 'm1',
    });
    now += 1;
    expect(
      await store.accept({ id: 'm3', from: 'alice', to: 'bob', body: 'x', ts: 3, cid: 'c' }),
    ).toMatchObject({
      kind: 'stored',
    });
  });
});
