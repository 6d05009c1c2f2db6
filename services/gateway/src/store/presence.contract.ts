/** Contract: session leases, renewal, caps and presence answers. Registered by store.contract.ts. */
import { randomUUID } from 'node:crypto';
import {
  acceptStored,
  freshUser,
  gw,
  request,
  SHORT_LEASE_MS,
  sleep,
  StoreWith,
  TIMED_TEST_MS,
  waitFor,
} from './contract-support';

export function registerPresenceTests(storeWith: StoreWith): void {
  it('is offline before openSession, online after, offline after closeSession', async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    const session = { user: bob, sessionId: randomUUID() };
    expect((await acceptStored(store, request(alice, bob))).online).toBe(false);
    expect(await store.presence([bob])).toEqual(new Map([[bob, false]]));
    expect(await store.openSession(session, gw('gw-a'))).toMatchObject({ kind: 'opened' });
    expect((await acceptStored(store, request(alice, bob))).online).toBe(true);
    expect(await store.presence([bob])).toEqual(new Map([[bob, true]]));
    // The same session id on another gateway is another session.
    await store.closeSession(session, gw('gw-b'));
    expect(await store.presence([bob])).toEqual(new Map([[bob, true]]));
    await store.closeSession(session, gw('gw-a'));
    expect((await acceptStored(store, request(alice, bob))).online).toBe(false);
    expect(await store.presence([bob])).toEqual(new Map([[bob, false]]));
  });

  it(
    'goes offline when the lease expires without renewal',
    async () => {
      const store = await storeWith({ presenceLeaseMs: SHORT_LEASE_MS });
      const bob = freshUser('bob');
      await store.openSession({ user: bob, sessionId: 's1' }, gw('gw-a'));
      await waitFor('the lease to expire', async () => (await store.presence([bob])).get(bob) === false);
      const result = await acceptStored(store, request(freshUser('alice'), bob));
      expect(result.online).toBe(false);
    },
    TIMED_TEST_MS,
  );

  it(
    'stays online past the first lease while renewed, then expires',
    async () => {
      const store = await storeWith({ presenceLeaseMs: SHORT_LEASE_MS });
      const [bob, carol] = [freshUser('bob'), freshUser('carol')];
      const sessions = [
        { user: bob, sessionId: 's1' },
        { user: carol, sessionId: 's2' },
      ];
      for (const session of sessions) await store.openSession(session, gw('gw-a'));
      const openedAt = Date.now();
      // Plays the gateway's renewal tick, at a third of the lease.
      while (Date.now() - openedAt < SHORT_LEASE_MS * 2.5) {
        await store.renewSessions(sessions, gw('gw-a'));
        await sleep(SHORT_LEASE_MS / 3);
      }
      await store.renewSessions(sessions, gw('gw-a'));
      expect(await store.presence([bob, carol])).toEqual(
        new Map([
          [bob, true],
          [carol, true],
        ]),
      );
      await waitFor('renewed leases to expire', async () => {
        const now = await store.presence([bob, carol]);
        return now.get(bob) === false && now.get(carol) === false;
      });
    },
    TIMED_TEST_MS,
  );

  it('restores, on renew, a held session whose lease lapsed', async () => {
    const store = await storeWith();
    const bob = freshUser('bob');
    const session = { user: bob, sessionId: 's1' };
    await store.openSession(session, gw('gw-a'));
    // Stands in for a lease that ran out while the gateway stalled: gone from the store.
    await store.closeSession(session, gw('gw-a'));
    expect(await store.presence([bob])).toEqual(new Map([[bob, false]]));
    await store.renewSessions([session], gw('gw-a'));
    expect(await store.presence([bob])).toEqual(new Map([[bob, true]]));
  });

  it("tells the opened session the user's current seq (0 for a new user, kept after acks)", async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    expect(await store.openSession({ user: bob, sessionId: 's0' }, gw('gw-a'))).toEqual({
      kind: 'opened',
      seq: 0,
    });
    const stored = [];
    for (let i = 0; i < 3; i += 1) stored.push((await acceptStored(store, request(alice, bob))).message);
    await store.ack(
      bob,
      stored.map((message) => message.id),
    );
    expect(await store.openSession({ user: bob, sessionId: 's1' }, gw('gw-b'))).toEqual({
      kind: 'opened',
      seq: stored[2]?.seq,
    });
  });

  it("reports the routes of the recipient's live sessions, each once", async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    expect((await acceptStored(store, request(alice, bob))).routes).toEqual([]);
    await store.openSession({ user: bob, sessionId: 's1' }, gw('gw-a', 1));
    await store.openSession({ user: bob, sessionId: 's2' }, gw('gw-b', 3));
    await store.openSession({ user: bob, sessionId: 's3' }, gw('gw-c', 3));
    expect((await acceptStored(store, request(alice, bob))).routes.sort()).toEqual([1, 3]);
    await store.closeSession({ user: bob, sessionId: 's1' }, gw('gw-a', 1));
    expect((await acceptStored(store, request(alice, bob))).routes).toEqual([3]);
  });

  it("settles a cid as sent at once when every live session is on the accepting gateway's route", async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    await store.openSession({ user: bob, sessionId: 's1' }, gw('gw-a', 4));
    await acceptStored(store, request(alice, bob, { cid: 'local-1', localRoute: 4 }));
    expect(await store.accept(request(alice, bob, { cid: 'local-1' }))).toMatchObject({ status: 'sent' });
    // Another route holds a session too: the bus is needed, so the record waits for the settle.
    await store.openSession({ user: bob, sessionId: 's2' }, gw('gw-b', 5));
    await acceptStored(store, request(alice, bob, { cid: 'local-2', localRoute: 4 }));
    expect(await store.accept(request(alice, bob, { cid: 'local-2' }))).toMatchObject({ status: 'pending' });
  });

  it('gives each gateway a route of its own, renews it, and shares one only when all are taken', async () => {
    const store = await storeWith();
    const [a, b, c] = [freshUser('gw-a'), freshUser('gw-b'), freshUser('gw-c')];
    const first = await store.claimRoute(a, 2, 30_000);
    const second = await store.claimRoute(b, 2, 30_000);
    expect(first.exclusive && second.exclusive).toBe(true);
    expect(new Set([first.route, second.route]).size).toBe(2);
    expect(await store.claimRoute(a, 2, 30_000, first.route)).toEqual(first);
    const third = await store.claimRoute(c, 2, 30_000);
    expect(third.exclusive).toBe(false);
    expect([0, 1]).toContain(third.route);
  });

  it(
    'lets a route whose lease lapsed be claimed again; the old holder keeps it, shared',
    async () => {
      const store = await storeWith();
      const [a, b] = [freshUser('gw-a'), freshUser('gw-b')];
      const first = await store.claimRoute(a, 1, SHORT_LEASE_MS);
      expect(first).toEqual({ route: 0, exclusive: true });
      expect(await store.claimRoute(b, 1, 30_000)).toEqual({ route: 0, exclusive: false });
      await sleep(SHORT_LEASE_MS + 50);
      expect(await store.claimRoute(b, 1, 30_000)).toEqual({ route: 0, exclusive: true });
      expect(await store.claimRoute(a, 1, 30_000, 0)).toEqual({ route: 0, exclusive: false });
    },
    TIMED_TEST_MS,
  );

  it('refuses too_many_connections at the cap until a session closes', async () => {
    const store = await storeWith({ maxConnectionsPerUser: 2 });
    const bob = freshUser('bob');
    const open = (sessionId: string) => store.openSession({ user: bob, sessionId }, gw('gw-a'));
    expect(await open('s1')).toMatchObject({ kind: 'opened' });
    expect(await open('s2')).toMatchObject({ kind: 'opened' });
    expect(await open('s3')).toEqual({ kind: 'too_many_connections' });
    // Reopening a held session is a renewal, not a new connection.
    expect(await open('s2')).toMatchObject({ kind: 'opened' });
    await store.closeSession({ user: bob, sessionId: 's1' }, gw('gw-a'));
    expect(await open('s3')).toMatchObject({ kind: 'opened' });
    expect(await store.openSession({ user: freshUser('carol'), sessionId: 's1' }, gw('gw-a'))).toMatchObject({
      kind: 'opened',
    });
  });

  it(
    'does not count expired leases towards the cap',
    async () => {
      const store = await storeWith({ maxConnectionsPerUser: 1, presenceLeaseMs: SHORT_LEASE_MS });
      const bob = freshUser('bob');
      await store.openSession({ user: bob, sessionId: 's1' }, gw('gw-a'));
      expect(await store.openSession({ user: bob, sessionId: 's2' }, gw('gw-b'))).toEqual({
        kind: 'too_many_connections',
      });
      await waitFor('the stale lease to free its slot', async () => {
        const result = await store.openSession({ user: bob, sessionId: 's2' }, gw('gw-b'));
        return result.kind === 'opened';
      });
    },
    TIMED_TEST_MS,
  );

  it('answers presence for exactly the ids asked, duplicates included', async () => {
    const store = await storeWith();
    const [bob, carol, dave] = [freshUser('bob'), freshUser('carol'), freshUser('dave')];
    await store.openSession({ user: bob, sessionId: 's1' }, gw('gw-a'));
    await store.openSession({ user: dave, sessionId: 's1' }, gw('gw-b'));
    const answer = await store.presence([bob, carol, bob, dave, carol]);
    expect(answer).toEqual(
      new Map([
        [bob, true],
        [carol, false],
        [dave, true],
      ]),
    );
    expect(await store.presence([])).toEqual(new Map());
  });
}
