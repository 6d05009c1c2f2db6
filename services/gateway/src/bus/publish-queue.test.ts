import { PublishQueue, BusUnavailableError } from './publish-queue';
import type { OutboundRecord } from './record';

function record(n: number): OutboundRecord {
  return { key: `k${n % 3}`, value: String(n) };
}

/** A send whose completion the test controls, to observe what is in flight. */
function controlledSend(): {
  send: (records: OutboundRecord[]) => Promise<void>;
  batches: OutboundRecord[][];
  settle: (error?: Error) => void;
} {
  const batches: OutboundRecord[][] = [];
  const settlers: Array<(error?: Error) => void> = [];
  return {
    batches,
    send: (records) =>
      new Promise<void>((resolve, reject) => {
        batches.push(records);
        settlers.push((error) => (error === undefined ? resolve() : reject(error)));
      }),
    settle: (error) => settlers.shift()?.(error),
  };
}

/** Yields to the event loop until `n` sends have started (a send starts a few microtasks late). */
async function untilBatches(batches: unknown[], n: number): Promise<void> {
  while (batches.length < n) await new Promise<void>((resolve) => setImmediate(resolve));
}

const options = { lingerMs: 2, batchMax: 10, maxPending: 25, failFastMs: 60_000 };

describe('PublishQueue', () => {
  it('sends a full batch at once and keeps one send in flight, in order', async () => {
    const ctl = controlledSend();
    const queue = new PublishQueue(ctl.send, options);
    const done = Array.from({ length: 15 }, (_, n) => queue.enqueue(record(n)));
    expect(ctl.batches.map((b) => b.length)).toEqual([10]);
    ctl.settle();
    await untilBatches(ctl.batches, 2);
    expect(ctl.batches.map((b) => b.length)).toEqual([10, 5]);
    ctl.settle();
    await Promise.all(done);
    expect(ctl.batches.flat().map((r) => r.value)).toEqual(Array.from({ length: 15 }, (_, n) => String(n)));
  });

  it('sends a partial batch after the linger time', async () => {
    const ctl = controlledSend();
    const queue = new PublishQueue(ctl.send, options);
    const done = queue.enqueue(record(1));
    expect(ctl.batches).toEqual([]);
    await untilBatches(ctl.batches, 1);
    ctl.settle();
    await done;
  });

  it('rejects the failed batch and what waits behind it, then fails fast', async () => {
    const ctl = controlledSend();
    const queue = new PublishQueue(ctl.send, options);
    const first = Array.from({ length: 12 }, (_, n) => queue.enqueue(record(n)));
    ctl.settle(new Error('broker down'));
    const results = await Promise.allSettled(first);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(queue.isFailing()).toBe(true);
    await expect(queue.enqueue(record(99))).rejects.toBeInstanceOf(BusUnavailableError);
    expect(ctl.batches).toHaveLength(1);
  });

  it('bounds what is pending', async () => {
    const ctl = controlledSend();
    const queue = new PublishQueue(ctl.send, options);
    const accepted = Array.from({ length: 25 }, (_, n) => queue.enqueue(record(n)));
    await expect(queue.enqueue(record(25))).rejects.toThrow('overloaded');
    for (let n = 1; n <= 3; n++) {
      await untilBatches(ctl.batches, n);
      ctl.settle();
    }
    await Promise.all(accepted);
    expect(ctl.batches.map((b) => b.length)).toEqual([10, 10, 5]);
  });

  it('refuses after close but flushes what was queued', async () => {
    const sent: string[] = [];
    const queue = new PublishQueue(
      async (records) => void sent.push(...records.map((r) => r.value)),
      options,
    );
    const queued = queue.enqueue(record(1));
    queue.close(new BusUnavailableError('bus stopped'));
    await expect(queue.enqueue(record(2))).rejects.toThrow('bus stopped');
    await queue.flush(1_000);
    await queued;
    expect(sent).toEqual(['1']);
  });
});
