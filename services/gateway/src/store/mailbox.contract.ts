/** Contract: mailbox order, acks, caps and idempotency. Registered by store.contract.ts. */
import { acceptStored, freshUser, gw, request, StoreWith, TIMED_TEST_MS, waitFor } from './contract-support';

export function registerMailboxTests(storeWith: StoreWith): void {
  it('stores an accepted message exactly as sent and reads it back', async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    // Quotes, escapes, non-BMP and line separators must survive the JSON round trip through Lua.
    const req = request(alice, bob, { body: 'hi "bob" \\ \n \u2028 😀 {}', ts: 1732300000123 });
    const result = await acceptStored(store, req);
    expect(result.online).toBe(false);
    expect(result.message).toEqual({
      id: req.id,
      from: alice,
      to: bob,
      body: req.body,
      ts: req.ts,
      seq: result.message.seq,
    });
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
    for (let i = 0; i < 5; i += 1)
      sent.push((await acceptStored(store, request(alice, bob, { body: `#${i}` }))).message);
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

export function registerIdempotencyTests(storeWith: StoreWith): void {
  it('answers a repeated cid with the first id, ts and status and stores nothing twice', async () => {
    const store = await storeWith();
    const [alice, bob, carol] = [freshUser('alice'), freshUser('bob'), freshUser('carol')];
    const first = await acceptStored(store, request(alice, bob, { cid: 'c-1' }));
    // Whatever `to` and `body` the repeat carries (docs/protocol.md, cid rule).
    const repeat = await store.accept(request(alice, carol, { cid: 'c-1', body: 'other', ts: 1 }));
    expect(repeat).toEqual({
      kind: 'duplicate',
      id: first.message.id,
      ts: first.message.ts,
      to: bob,
      status: 'queued',
    });
    expect(await store.mailboxDepth(bob)).toBe(1);
    expect(await store.mailboxDepth(carol)).toBe(0);

    await store.ack(bob, [first.message.id]);
    expect(await store.accept(request(alice, bob, { cid: 'c-1' }))).toEqual(repeat);
    expect(await store.mailboxDepth(bob)).toBe(0);
  });

  it("remembers pending while an online recipient's publish is unsettled, then what was settled", async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    await store.openSession({ user: bob, sessionId: 's1' }, gw('gw-a'));
    const first = await acceptStored(store, request(alice, bob, { cid: 'c-on' }));
    expect(first.online).toBe(true);
    const repeat = await store.accept(request(alice, bob, { cid: 'c-on' }));
    expect(repeat).toEqual({
      kind: 'duplicate',
      id: first.message.id,
      ts: first.message.ts,
      to: bob,
      status: 'pending',
    });
    await store.settleStatus(alice, 'c-on', 'sent');
    expect(await store.accept(request(alice, bob, { cid: 'c-on' }))).toMatchObject({ status: 'sent' });
  });

  it('reads one message still in the mailbox by id, and nothing once acknowledged', async () => {
    const store = await storeWith();
    const [alice, bob] = [freshUser('alice'), freshUser('bob')];
    const first = await acceptStored(store, request(alice, bob, { cid: 'c-read' }));
    expect(await store.readMessage(bob, first.message.id)).toEqual(first.message);
    expect(await store.readMessage(alice, first.message.id)).toBeUndefined();
    await store.ack(bob, [first.message.id]);
    expect(await store.readMessage(bob, first.message.id)).toBeUndefined();
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
    await store.openSession({ user: bob, sessionId: 's1' }, gw('gw-a'));
    const first = await acceptStored(store, request(alice, bob, { cid: 'c-settle' }));
    await store.settleStatus(alice, 'c-settle', 'queued');
    const repeat = await store.accept(request(alice, bob, { cid: 'c-settle' }));
    expect(repeat).toEqual({
      kind: 'duplicate',
      id: first.message.id,
      ts: first.message.ts,
      to: bob,
      status: 'queued',
    });
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
