/** Acks gathered per turn: one store call per user and turn, retried when it fails. */
import pino from 'pino';
import { AckBatcher } from './acks';
import { memoryStore } from './test-support';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const silent = pino({ level: 'silent' });

async function mailboxWith(user: string, count: number) {
  const store = memoryStore();
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = `id-${user}-${String(i).padStart(5, '0')}`;
    await store.accept({ id, from: 'alice', to: user, body: `m${i}`, ts: Date.now() });
    ids.push(id);
  }
  return { store, ids };
}

test("a user's acks from several frames of one turn become one store call, and every id is removed", async () => {
  const { store, ids } = await mailboxWith('bob', 5);
  const calls = jest.spyOn(store, 'ack');
  const acks = new AckBatcher(store, silent);
  // Three ack frames (two connections of bob) handled in the same turn.
  acks.add('bob', ids.slice(0, 2));
  acks.add('bob', ids.slice(2, 3));
  await Promise.resolve().then(() => acks.add('bob', ids.slice(3, 4)));
  expect(calls).not.toHaveBeenCalled();

  await nextTurn();
  expect(calls).toHaveBeenCalledTimes(1);
  expect(calls).toHaveBeenCalledWith('bob', ids.slice(0, 4));
  await acks.drain();
  expect((await store.readMailbox('bob', 0, 10)).map((m) => m.id)).toEqual([ids[4]]);

  acks.add('bob', ids.slice(4)); // a later turn: a call of its own
  await acks.drain();
  expect(calls).toHaveBeenCalledTimes(2);
  expect(await store.mailboxDepth('bob')).toBe(0);
});

test('users are acked separately, and a long list in chunks of maxIds', async () => {
  const bob = await mailboxWith('bob', 25);
  const store = bob.store;
  await store.accept({ id: 'id-carol', from: 'alice', to: 'carol', body: 'hi', ts: Date.now() });
  const calls = jest.spyOn(store, 'ack');
  const acks = new AckBatcher(store, silent, { maxIds: 10, retryDelaysMs: [] });
  acks.add('bob', bob.ids.slice(0, 15));
  acks.add('carol', ['id-carol']);
  acks.add('bob', bob.ids.slice(15));
  await acks.drain();
  expect(calls.mock.calls.map(([user, ids]) => [user, ids.length])).toEqual([
    ['bob', 10],
    ['bob', 10],
    ['bob', 5],
    ['carol', 1],
  ]);
  expect(await store.mailboxDepth('bob')).toBe(0);
  expect(await store.mailboxDepth('carol')).toBe(0);
});

test('a failed ack is retried rather than dropped; drain waits for the retry', async () => {
  const { store, ids } = await mailboxWith('bob', 3);
  const ack = store.ack.bind(store);
  const calls = jest
    .spyOn(store, 'ack')
    .mockRejectedValueOnce(new Error('redis timeout'))
    .mockRejectedValueOnce(new Error('redis timeout'))
    .mockImplementation(ack);
  const acks = new AckBatcher(store, silent, { maxIds: 1000, retryDelaysMs: [1, 1] });
  acks.add('bob', ids);
  await acks.drain(); // shutdown: before the store closes
  expect(calls).toHaveBeenCalledTimes(3);
  expect(await store.mailboxDepth('bob')).toBe(0);
});

test('an ack still failing after the retries is logged and given up (the ids stay for redelivery)', async () => {
  const { store, ids } = await mailboxWith('bob', 2);
  const calls = jest.spyOn(store, 'ack').mockRejectedValue(new Error('redis down'));
  const logger = pino({ level: 'silent' });
  const warn = jest.spyOn(logger, 'warn');
  const acks = new AckBatcher(store, logger, { maxIds: 1000, retryDelaysMs: [1] });
  acks.add('bob', ids);
  await acks.drain();
  expect(calls).toHaveBeenCalledTimes(2);
  expect(warn).toHaveBeenCalledTimes(1);
  expect(await store.mailboxDepth('bob')).toBe(2);
});
