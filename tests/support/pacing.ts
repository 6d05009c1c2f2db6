/** Paced, pipelined sending and a seeded random source for the delivery-guarantee tests. */
import type { CidSender } from './streams';

/**
 * Sends `count` messages in bursts of `perTick` every `tickMs` without waiting for answers
 * (pipelined), then waits for every answer. Pacing is the point here, not a wait for an event:
 * it keeps a stream near the gateway's rate limit for the seconds the test needs it to flow.
 */
export async function streamSends(
  sender: CidSender,
  to: string,
  options: { count: number; perTick: number; tickMs: number; burstEvery?: number; burstSize?: number },
): Promise<void> {
  let sent = 0;
  for (let tick = 1; sent < options.count; tick += 1) {
    const spike = options.burstEvery !== undefined && tick % options.burstEvery === 0;
    const size = spike ? (options.burstSize ?? options.perTick) : options.perTick;
    for (let i = 0; i < size && sent < options.count; i += 1, sent += 1) sender.send(to);
    await new Promise((wake) => setTimeout(wake, options.tickMs));
  }
  await sender.settle();
}

/** mulberry32: a tiny seeded PRNG, so a failing run can be replayed with its logged seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
