/** PublishQueue's byte cap per send: a batch over the broker's message.max.bytes fails whole. */
import { PublishQueue } from './publish-queue';
import type { OutboundRecord } from './record';

const big = (n: number): OutboundRecord => ({ key: 'bob', value: `${n}:${'x'.repeat(60_000)}` });

async function sentBatches(records: OutboundRecord[], batchMaxBytes: number): Promise<number[][]> {
  const batches: number[][] = [];
  const queue = new PublishQueue(
    async (batch) => {
      batches.push(batch.map((r) => Number(r.value.split(':')[0])));
    },
    { lingerMs: 1, batchMax: 500, batchMaxBytes, maxPending: 1000, failFastMs: 1000 },
  );
  await Promise.all(records.map((r) => queue.enqueue(r)));
  return batches;
}

describe('PublishQueue batchMaxBytes', () => {
  it('splits a run of large records into sends under the byte cap, in order', async () => {
    const batches = await sentBatches(
      Array.from({ length: 40 }, (_, n) => big(n)),
      900_000,
    );
    expect(batches.flat()).toEqual(Array.from({ length: 40 }, (_, n) => n));
    // 14 records of ~60 KB fit under 900,000 bytes, a 15th would not.
    expect(batches.map((b) => b.length)).toEqual([14, 14, 12]);
  });

  it('sends a single record larger than the cap on its own rather than never', async () => {
    expect(await sentBatches([big(0), big(1)], 1000)).toEqual([[0], [1]]);
  });
});
