/**
 * The one behaviour suite every MailboxStore must pass (memory in unit tests, Redis in
 * tests/store). Each test makes its own store with the limits it needs and fresh user ids, so
 * runs against a shared Redis never collide. Waits poll against a deadline instead of sleeping.
 */
import { randomUUID } from 'node:crypto';
import type { AcceptRequest, MailboxStore, StoreLimits } from './store';

export type MakeStore = (limits: StoreLimits) => Promise<{ store: MailboxStore; cleanup(): Promise<void> }>;

const defaultLimits: StoreLimits = {
  mailboxMax: 1000,
  mailboxRetentionSeconds: 3600,
  idempotencyTtlSeconds: 3600,
  presenceLeaseMs: 30_000,
  maxConnectionsPerUser: 10,
};

const SHORT_LEASE_MS = 300;
const TIMED_TEST_MS = 15_000;

export function freshUser(label: string): string {
  return `${label}-${randomUUID().slice(0, 12)}`;
}

let nextId = 0;
/** Ids that increase in creation order, like the gateway's ULIDs. */
function messageId(): string {
  nextId += 1;
  return `m-${Date.now().toString(36)}-${String(nextId).padStart(8, '0')}`;
}

function request(from: string, to: string, extra: Partial<AcceptRequest> = {}): AcceptRequest {
  return { id: messageId(), from, to, body: `hello ${to}`, ts: Date.now(), ...extra };
}

export async function waitFor(what: string, check: () => Promise<boolean>, deadlineMs = 5000): Promise<void> {
  const giveUpAt = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > giveUpAt) throw new Error(`timed out after ${deadlineMs} ms waiting for: ${what}`);
    await sleep(25);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function describeMailboxStoreContract(name: string, makeStore: MakeStore): void {
  describe(`MailboxStore contract: ${name}`, () => {
    const cleanups: Array<() => Promise<void>> = [];

    async function storeWith(overrides: Partial<StoreLimits> = {}): Promise<MailboxStore> {
      const made = await makeStore({ ...defaultLimits, ...overrides });
      cleanups.push(() => made.cleanup());
      return made.store;
    }

    async function acceptStored(store: MailboxStore, req: AcceptRequest) {
      const result = await store.accept(req);
      if (result.kind !== 'stored') throw new Error(`expected stored, got ${result.kind}`);
      return result;
    }

    afterEach(async () => {
      await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
    });

    describe('mailbox', () => registerMailboxTests(storeWith, acceptStored));
    describe('idempotency', () => registerIdempotencyTests(storeWith, acceptStored));
    describe('presence', () => registerPresenceTests(storeWith, acceptStored));

    it('answers ping', async () => {
      const store = await storeWith();
      expect(await store.ping()).toBe(true);
    });
  });
}

type StoreWith = (overrides?: Partial<StoreLimits>) => Promise<MailboxStore>;
type AcceptStored = (
  store: MailboxStore,
  req: AcceptRequest,
) => Promise<Extract<Awaited<ReturnType<MailboxStore['accept']>>, { kind: 'stored' }>>;

function registerMailboxTests(storeWith: StoreWith, acceptStored: AcceptStored): void {
  it('stores an accepted message exactly as sent and reads it back', async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    // Quotes, escapes, non-BMP and line separators must survive the JSON round trip through Lua.
    const req = request(alice, bob, { body: 'hi "bob" \\ \n \u2028 😀 {}', ts: 1732300000123 });
    const result = await acceptStored(store, req);
    expect(result.online).toBe(false);
    expect(result.message).toEqual({ id: req.id, from: alice, to: bob, body: req.body, ts: req.ts, seq: result.message.seq });
    expect(await store.readMailbox(bob, 0, 10)).toEqual([result.message]);
    expect(await store.mailboxDepth(bob)).toBe(1);
    expect(await store.mailboxDepth(alice)).toBe(0);
  });

  it('assigns strictly increasing seq per recipient', async () => {
    const store = await storeWith();
    const [alice, carol, bob] = [freshUser('alice'), freshUser('carol'), freshUser('bob')];
    const seqs: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      seqs.push((await acceptStored(store, request(i % 2 === 0 ? alice : carol, bob))).message.seq);
    }
    for (let i = 1; i < seqs.length; i += 1) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] ?? Infinity);
  });

  it('keeps seq increasing after the mailbox was emptied', async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    const first = await acceptStored(store, request(alice, bob));
    await store.ack(bob, [first.message.id]);
    const second = await acceptStored(store, request(alice, bob));
    expect(second.message.seq).toBeGreaterThan(first.message.seq);
  });

  it('pages the mailbox oldest first, strictly after afterSeq', async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    const sent = [];
    for (let i = 0; i < 5; i += 1) sent.push((await acceptStored(store, request(alice, bob, { body: `#${i}` }))).message);
    const page1 = await store.readMailbox(bob, 0, 2);
    expect(page1).toEqual(sent.slice(0, 2));
    const page2 = await store.readMailbox(bob, page1[1]?.seq ?? NaN, 2);
    expect(page2).toEqual(sent.slice(2, 4));
    const page3 = await store.readMailbox(bob, page2[1]?.seq ?? NaN, 2);
    expect(page3).toEqual(sent.slice(4));
    expect(await store.readMailbox(bob, page3[0]?.seq ?? NaN, 2)).toEqual([]);
    expect(await store.readMailbox(bob, 0, 100)).toEqual(sent);
    expect(await store.readMailbox(freshUser('nobody'), 0, 10)).toEqual([]);
  });

  it('acks only from the acking user’s own mailbox and ignores unknown ids', async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    const toAlice = await acceptStored(store, request(bob, alice));
    const toBob = await acceptStored(store, request(alice, bob));
    await store.ack(bob, [toAlice.message.id, 'no-such-id']);
    expect(await store.readMailbox(alice, 0, 10)).toEqual([toAlice.message]);
    expect(await store.readMailbox(bob, 0, 10)).toEqual([toBob.message]);
    await store.ack(bob, [toBob.message.id, toBob.message.id]);
    await store.ack(bob, [toBob.message.id]);
    await store.ack(bob, []);
    expect(await store.readMailbox(bob, 0, 10)).toEqual([]);
    expect(await store.mailboxDepth(bob)).toBe(0);
    expect(await store.mailboxDepth(alice)).toBe(1);
  });

  it('acks out of order and keeps the rest in order', async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    const sent = [];
    for (let i = 0; i < 5; i += 1) sent.push((await acceptStored(store, request(alice, bob))).message);
    await store.ack(bob, [sent[3]?.id ?? '', sent[1]?.id ?? '']);
    expect(await store.readMailbox(bob, 0, 10)).toEqual([sent[0], sent[2], sent[4]]);
    await store.ack(bob, [sent[4]?.id ?? '']);
    expect(await store.readMailbox(bob, 0, 10)).toEqual([sent[0], sent[2]]);
    expect(await store.mailboxDepth(bob)).toBe(2);
  });

  it('refuses with mailbox_full at the cap and accepts again once an ack frees room', async () => {
    const store = await storeWith({ mailboxMax: 3 });
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    const sent = [];
    for (let i = 0; i < 3; i += 1) sent.push((await acceptStored(store, request(alice, bob))).message);
    expect(await store.accept(request(alice, bob))).toEqual({ kind: 'mailbox_full' });
    expect(await store.accept(request(alice, bob, { cid: 'full-1' }))).toEqual({ kind: 'mailbox_full' });
    expect(await store.mailboxDepth(bob)).toBe(3);
    await store.ack(bob, [sent[0]?.id ?? '']);
    // A refused cid was not remembered: its retry is a fresh accept.
    const retried = await acceptStored(store, request(alice, bob, { cid: 'full-1' }));
    expect(retried.message.seq).toBeGreaterThan(sent[2]?.seq ?? Infinity);
    expect(await store.mailboxDepth(bob)).toBe(3);
  });
}

function registerIdempotencyTests(storeWith: StoreWith, acceptStored: AcceptStored): void {
  it('answers a repeated cid with the first id, ts and status and stores nothing twice', async () => {
    const store = await storeWith();
    const [alice, bob, carol] = [freshUser('alice'), freshUser('bob'), freshUser('carol')];
    const first = await acceptStored(store, request(alice, bob, { cid: 'c-1' }));
    // Whatever `to` and `body` the repeat carries (PROTOCOL.md, cid rule).
    const repeat = await store.accept(request(alice, carol, { cid: 'c-1', body: 'other', ts: 1 }));
    expect(repeat).toEqual({ kind: 'duplicate', id: first.message.id, ts: first.message.ts, status: 'queued' });
    expect(await store.mailboxDepth(bob)).toBe(1);
    expect(await store.mailboxDepth(carol)).toBe(0);

    await store.ack(bob, [first.message.id]);
    expect(await store.accept(request(alice, bob, { cid: 'c-1' }))).toEqual(repeat);
    expect(await store.mailboxDepth(bob)).toBe(0);
  });

  it('remembers status sent when the recipient was online', async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    await store.openSession({ user: bob, sessionId: 's1' }, 'gw-a');
    const first = await acceptStored(store, request(alice, bob, { cid: 'c-on' }));
    expect(first.online).toBe(true);
    const repeat = await store.accept(request(alice, bob, { cid: 'c-on' }));
    expect(repeat).toMatchObject({ kind: 'duplicate', id: first.message.id, status: 'sent' });
  });

  it('scopes cids to the sender', async () => {
    const store = await storeWith();
    const [alice, carol, bob] = [freshUser('alice'), freshUser('carol'), freshUser('bob')];
    const fromAlice = await acceptStored(store, request(alice, bob, { cid: 'shared' }));
    const fromCarol = await acceptStored(store, request(carol, bob, { cid: 'shared' }));
    expect(fromCarol.message.id).not.toBe(fromAlice.message.id);
    expect(await store.mailboxDepth(bob)).toBe(2);
  });

  it('settleStatus rewrites the status that repeats answer', async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    await store.openSession({ user: bob, sessionId: 's1' }, 'gw-a');
    const first = await acceptStored(store, request(alice, bob, { cid: 'c-settle' }));
    await store.settleStatus(alice, 'c-settle', 'queued');
    const repeat = await store.accept(request(alice, bob, { cid: 'c-settle' }));
    expect(repeat).toEqual({ kind: 'duplicate', id: first.message.id, ts: first.message.ts, status: 'queued' });
    await store.settleStatus(alice, 'never-used', 'sent');
    expect(await store.accept(request(alice, bob, { cid: 'never-used' }))).toMatchObject({ kind: 'stored' });
  });

  it(
    'forgets a cid after idempotencyTtlSeconds',
    async () => {
      const store = await storeWith({ idempotencyTtlSeconds: 1 });
      const [alice, bob] = [freshUser('alice'), freshUser('bob')];
      await acceptStored(store, request(alice, bob, { cid: 'c-ttl' }));
      await waitFor('the cid to be accepted afresh', async () => {
        const again = await store.accept(request(alice, bob, { cid: 'c-ttl' }));
        return again.kind === 'stored';
      });
      expect(await store.mailboxDepth(bob)).toBe(2);
    },
    TIMED_TEST_MS,
  );
}

function registerPresenceTests(storeWith: StoreWith, acceptStored: AcceptStored): void {
  it('is offline before openSession, online after, offline after closeSession', async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    const session = { user: bob, sessionId: randomUUID() };
    expect((await acceptStored(store, request(alice, bob))).online).toBe(false);
    expect(await store.presence([bob])).toEqual(new Map([[bob, false]]));
    expect(await store.openSession(session, 'gw-a')).toEqual({ kind: 'opened' });
    expect((await acceptStored(store, request(alice, bob))).online).toBe(true);
    expect(await store.presence([bob])).toEqual(new Map([[bob, true]]));
    // The same session id on another gateway is another session.
    await store.closeSession(session, 'gw-b');
    expect(await store.presence([bob])).toEqual(new Map([[bob, true]]));
    await store.closeSession(session, 'gw-a');
    expect((await acceptStored(store, request(alice, bob))).online).toBe(false);
    expect(await store.presence([bob])).toEqual(new Map([[bob, false]]));
  });

  it(
    'goes offline when the lease expires without renewal',
    async () => {
      const store = await storeWith({ presenceLeaseMs: SHORT_LEASE_MS });
      const bob = freshUser('bob');
      await store.openSession({ user: bob, sessionId: 's1' }, 'gw-a');
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
      for (const session of sessions) await store.openSession(session, 'gw-a');
      const openedAt = Date.now();
      // Plays the gateway's renewal tick, at a third of the lease.
      while (Date.now() - openedAt < SHORT_LEASE_MS * 2.5) {
        await store.renewSessions(sessions, 'gw-a');
        await sleep(SHORT_LEASE_MS / 3);
      }
      await store.renewSessions(sessions, 'gw-a');
      expect(await store.presence([bob, carol])).toEqual(new Map([[bob, true], [carol, true]]));
      await waitFor('renewed leases to expire', async () => {
        const now = await store.presence([bob, carol]);
        return now.get(bob) === false && now.get(carol) === false;
      });
    },
    TIMED_TEST_MS,
  );

  it('does not resurrect a closed session on renew', async () => {
    const store = await storeWith();
    const bob = freshUser('bob');
    const session = { user: bob, sessionId: 's1' };
    await store.openSession(session, 'gw-a');
    await store.closeSession(session, 'gw-a');
    await store.renewSessions([session], 'gw-a');
    expect(await store.presence([bob])).toEqual(new Map([[bob, false]]));
  });

  it('refuses too_many_connections at the cap until a session closes', async () => {
    const store = await storeWith({ maxConnectionsPerUser: 2 });
    const bob = freshUser('bob');
    const open = (sessionId: string) => store.openSession({ user: bob, sessionId }, 'gw-a');
    expect(await open('s1')).toEqual({ kind: 'opened' });
    expect(await open('s2')).toEqual({ kind: 'opened' });
    expect(await open('s3')).toEqual({ kind: 'too_many_connections' });
    // Reopening a held session is a renewal, not a new connection.
    expect(await open('s2')).toEqual({ kind: 'opened' });
    await store.closeSession({ user: bob, sessionId: 's1' }, 'gw-a');
    expect(await open('s3')).toEqual({ kind: 'opened' });
    expect(await store.openSession({ user: freshUser('carol'), sessionId: 's1' }, 'gw-a')).toEqual({ kind: 'opened' });
  });

  it(
    'does not count expired leases towards the cap',
    async () => {
      const store = await storeWith({ maxConnectionsPerUser: 1, presenceLeaseMs: SHORT_LEASE_MS });
      const bob = freshUser('bob');
      await store.openSession({ user: bob, sessionId: 's1' }, 'gw-a');
      expect(await store.openSession({ user: bob, sessionId: 's2' }, 'gw-b')).toEqual({ kind: 'too_many_connections' });
      await waitFor('the stale lease to free its slot', async () => {
        const result = await store.openSession({ user: bob, sessionId: 's2' }, 'gw-b');
        return result.kind === 'opened';
      });
    },
    TIMED_TEST_MS,
  );

  it('answers presence for exactly the ids asked, duplicates included', async () => {
    const store = await storeWith();
    const [bob, carol, dave] = [freshUser('bob'), freshUser('carol'), freshUser('dave')];
    await store.openSession({ user: bob, sessionId: 's1' }, 'gw-a');
    await store.openSession({ user: dave, sessionId: 's1' }, 'gw-b');
    const answer = await store.presence([bob, carol, bob, dave, carol]);
    expect(answer).toEqual(new Map([[bob, true], [carol, false], [dave, true]]));
    expect(await store.presence([])).toEqual(new Map());
  });
}
