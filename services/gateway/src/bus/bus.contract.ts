/**
 * The one behaviour every MessageBus must show, run against each implementation (memory in the
 * unit tests, Kafka in tests/bus). Two buses on one topic stand for two gateways, consuming routes
 * ROUTE_A and ROUTE_B (the topic must have at least two partitions). Every wait has
 * a deadline and ends as soon as the awaited messages arrive; nothing sleeps.
 */
import { randomBytes } from 'node:crypto';
import type { StoredMessage } from '../store/store';
import type { BusHandler, MessageBus } from './bus';

export interface BusPair {
  /** Not yet started: the suite starts both with its own handlers. */
  a: MessageBus;
  b: MessageBus;
  /** Stops both buses (the suite may have stopped one already) and frees what the pair used. */
  cleanup(): Promise<void>;
}

export const ROUTE_A = 0;
export const ROUTE_B = 1;
const BOTH = [ROUTE_A, ROUTE_B];

export interface ContractOptions {
  /** How long a test waits for deliveries before failing. */
  deadlineMs?: number;
}

/** Collects what a bus delivers and lets a test wait, with a deadline, for a condition on it. */
export class Inbox {
  readonly messages: StoredMessage[] = [];
  private readonly checks = new Set<() => void>();

  readonly handler: BusHandler = (batch) => {
    for (const message of batch) this.messages.push(message);
    for (const check of this.checks) check();
  };

  waitFor(
    done: (messages: readonly StoredMessage[]) => boolean,
    what: string,
    deadlineMs: number,
  ): Promise<void> {
    if (done(this.messages)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!done(this.messages)) return;
        finish();
        resolve();
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `timed out after ${deadlineMs} ms waiting for ${what} (${this.messages.length} received)`,
          ),
        );
      }, deadlineMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.checks.delete(check);
      };
      this.checks.add(check);
    });
  }

  /** Waits until every one of `ids` has arrived at least once. */
  waitForIds(ids: readonly string[], what: string, deadlineMs: number): Promise<void> {
    const wanted = new Set(ids);
    let seen = 0;
    return this.waitFor(
      (messages) => {
        // Incremental: re-scanning thousands of messages on every batch would be quadratic.
        for (; seen < messages.length; seen++) {
          const message = messages[seen];
          if (message !== undefined) wanted.delete(message.id);
        }
        return wanted.size === 0;
      },
      what,
      deadlineMs,
    );
  }
}

export function makeMessage(run: string, n: number, to: string, seq: number): StoredMessage {
  return { id: `${run}-${n}`, from: `sender-${run}`, to, body: `body ${n}`, ts: Date.now(), seq };
}

/** Per recipient, the seq numbers in arrival order, for messages of this run only. */
function seqsByRecipient(messages: readonly StoredMessage[], run: string): Map<string, number[]> {
  const byRecipient = new Map<string, number[]>();
  for (const m of messages) {
    if (!m.id.startsWith(`${run}-`)) continue;
    const seqs = byRecipient.get(m.to) ?? [];
    seqs.push(m.seq);
    byRecipient.set(m.to, seqs);
  }
  return byRecipient;
}

export function describeMessageBusContract(
  name: string,
  makeBuses: () => Promise<BusPair>,
  options: ContractOptions = {},
): void {
  const deadlineMs = options.deadlineMs ?? 5_000;
  const testTimeout = deadlineMs * 2 + 30_000; // start and stop of two buses come on top

  describe(`MessageBus contract: ${name}`, () => {
    let pair: BusPair;
    let inboxA: Inbox;
    let inboxB: Inbox;
    let run: string;

    beforeEach(async () => {
      run = randomBytes(4).toString('hex');
      pair = await makeBuses();
      inboxA = new Inbox();
      inboxB = new Inbox();
      await Promise.all([pair.a.start(inboxA.handler, ROUTE_A), pair.b.start(inboxB.handler, ROUTE_B)]);
    }, testTimeout);

    afterEach(async () => {
      await pair.cleanup();
    }, testTimeout);

    it('is ready once started', () => {
      expect(pair.a.isReady()).toBe(true);
      expect(pair.b.isReady()).toBe(true);
    });

    it(
      "delivers a message to the routes it is published to, the publisher's own included",
      async () => {
        const fromA = makeMessage(run, 1, 'alice', 1);
        const fromB = makeMessage(run, 2, 'bob', 1);
        await pair.a.publish(fromA, BOTH);
        await pair.b.publish(fromB, BOTH);
        const ids = [fromA.id, fromB.id];
        await inboxA.waitForIds(ids, 'both messages at a', deadlineMs);
        await inboxB.waitForIds(ids, 'both messages at b', deadlineMs);
        expect(inboxB.messages.find((m) => m.id === fromA.id)).toEqual(fromA);
      },
      testTimeout,
    );

    it(
      'delivers a message only to its routes: a gateway reads nothing meant for others',
      async () => {
        const onlyB = makeMessage(run, 1, 'bob', 1);
        const onlyA = makeMessage(run, 2, 'alice', 1);
        const everywhere = makeMessage(run, 3, 'carol', 1);
        await pair.a.publish(onlyB, [ROUTE_B]);
        await pair.a.publish(onlyA, [ROUTE_A]);
        await pair.b.publish(everywhere, 'all');
        await inboxA.waitForIds(
          [onlyA.id, everywhere.id],
          'its own and the everywhere message at a',
          deadlineMs,
        );
        await inboxB.waitForIds(
          [onlyB.id, everywhere.id],
          'its own and the everywhere message at b',
          deadlineMs,
        );
        const ofRun = (inbox: Inbox) =>
          inbox.messages.filter((m) => m.id.startsWith(`${run}-`)).map((m) => m.id);
        expect(ofRun(inboxA).sort()).toEqual([onlyA.id, everywhere.id].sort());
        expect(ofRun(inboxB).sort()).toEqual([onlyB.id, everywhere.id].sort());
      },
      testTimeout,
    );

    it(
      'keeps the per-recipient order of 1,000 messages from one publisher at every receiver',
      async () => {
        const recipients = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
        const sent = Array.from({ length: 1_000 }, (_, n) => {
          const to = recipients[n % recipients.length] ?? 'r0';
          return makeMessage(run, n, to, Math.floor(n / recipients.length) + 1);
        });
        // Published without awaiting each one: the bus must keep order across its own batches.
        await Promise.all(sent.map((m) => pair.a.publish(m, BOTH)));
        const ids = sent.map((m) => m.id);
        await inboxA.waitForIds(ids, '1,000 messages at a', deadlineMs);
        await inboxB.waitForIds(ids, '1,000 messages at b', deadlineMs);
        const expected = new Map(
          recipients.map((r) => [r, sent.filter((m) => m.to === r).map((m) => m.seq)]),
        );
        expect(seqsByRecipient(inboxA.messages, run)).toEqual(expected);
        expect(seqsByRecipient(inboxB.messages, run)).toEqual(expected);
      },
      testTimeout,
    );

    it(
      'resolves many concurrent publishes from both gateways and delivers them all',
      async () => {
        const sent = Array.from({ length: 2_000 }, (_, n) => makeMessage(run, n, `user${n % 50}`, n + 1));
        const results = await Promise.allSettled(
          sent.map((m, n) => (n % 2 === 0 ? pair.a : pair.b).publish(m, BOTH)),
        );
        expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
        const ids = sent.map((m) => m.id);
        await inboxA.waitForIds(ids, '2,000 messages at a', deadlineMs);
        await inboxB.waitForIds(ids, '2,000 messages at b', deadlineMs);
      },
      testTimeout,
    );

    it(
      'stops idempotently, is no longer ready, and rejects publishes after stop',
      async () => {
        await pair.a.stop();
        await pair.a.stop();
        expect(pair.a.isReady()).toBe(false);
        await expect(pair.a.publish(makeMessage(run, 1, 'alice', 1), BOTH)).rejects.toThrow();
        // The other gateway is unaffected.
        const still = makeMessage(run, 2, 'alice', 2);
        await pair.b.publish(still, BOTH);
        await inboxB.waitForIds([still.id], 'a message at b after a stopped', deadlineMs);
      },
      testTimeout,
    );
  });
}
