/**
 * Bookkeeping for the delivery-guarantee tests: a sender that streams `send` frames with cids
 * and resends the unanswered ones after a reconnect, and the checks every guarantee test makes
 * on what a recipient saw across its connections (at least once, no repeat on one connection,
 * per-pair order after dedupe).
 */
import { randomBytes } from 'node:crypto';
import { TestClient, type Frame } from './client';
import { tokenFor } from './tokens';

type Accepted = Extract<Frame, { type: 'accepted' }>;
type Refused = Extract<Frame, { type: 'error' }>;
export type Delivered = Extract<Frame, { type: 'message' }>;

export const uniqueUser = (name: string): string => `${name}-${randomBytes(4).toString('hex')}`;

export async function connectAs(user: string, url: string): Promise<TestClient> {
  return TestClient.connect(url, { token: await tokenFor(user) });
}

/** Connects, retrying refusals and refused connections (a gateway going away, nginx failing over). */
export async function connectRetrying(user: string, url: string, timeoutMs = 60_000): Promise<TestClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connectAs(user, url);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((wake) => setTimeout(wake, 200));
    }
  }
}

interface SendRecord {
  to: string;
  body: string;
  answer: Accepted | Refused | undefined;
}

/** One sending user. Records are kept in send order; answers are matched by cid. */
export class CidSender {
  client: TestClient | undefined;
  readonly records = new Map<string, SendRecord>();
  /** Every `accepted` seen, per cid, across connections: a retried cid must always get the same id. */
  readonly acceptedIds = new Map<string, Set<string>>();
  private scanned = new WeakMap<TestClient, number>();
  private counter = 0;

  constructor(readonly user: string) {}

  async connect(url: string): Promise<TestClient> {
    this.client = await connectRetrying(this.user, url);
    return this.client;
  }

  /** Sends without waiting for the answer; by default the body names the cid so recipients can map it back. */
  send(to: string, body?: string): string {
    const cid = `${this.user.slice(0, 40)}.${(this.counter += 1)}`;
    const record: SendRecord = { to, body: body ?? `body of ${cid}`, answer: undefined };
    this.records.set(cid, record);
    this.client?.sendJson({ type: 'send', to, body: record.body, cid });
    return cid;
  }

  /** Resends every unanswered send, same cid, to and body, on the current connection. */
  resendUnanswered(): number {
    let count = 0;
    for (const [cid, record] of this.records) {
      if (record.answer !== undefined) continue;
      this.client?.sendJson({ type: 'send', to: record.to, body: record.body, cid });
      count += 1;
    }
    return count;
  }

  /** Reads the answers that arrived on the current connection since the last call. */
  collect(): void {
    const client = this.client;
    if (client === undefined) return;
    const frames = client.frames;
    for (let i = this.scanned.get(client) ?? 0; i < frames.length; i += 1) {
      const frame = frames[i];
      if (frame === undefined || (frame.type !== 'accepted' && frame.type !== 'error')) continue;
      if (frame.cid === undefined) continue;
      const record = this.records.get(frame.cid);
      if (record === undefined) continue;
      if (frame.type === 'accepted') {
        const ids = this.acceptedIds.get(frame.cid) ?? new Set<string>();
        this.acceptedIds.set(frame.cid, ids.add(frame.id));
      }
      // A retryable error on an earlier attempt does not stick once a retry is accepted.
      if (record.answer === undefined || record.answer.type === 'error') record.answer = frame;
    }
    this.scanned.set(client, frames.length);
  }

  unanswered(): number {
    this.collect();
    let count = 0;
    for (const record of this.records.values()) if (record.answer === undefined) count += 1;
    return count;
  }

  /** Waits until every send on the current connection is answered (or the connection closes). */
  async settle(timeoutMs = 30_000): Promise<void> {
    const client = this.client;
    if (client === undefined) throw new Error('not connected');
    await client.waitFor(
      () => (this.unanswered() === 0 || client.closed !== undefined ? true : undefined),
      timeoutMs,
      `answers to ${this.unanswered()} sends of ${this.user}`,
    );
  }

  /** Accepted sends in the order this sender sent them (= accept order on one connection). */
  accepted(to?: string): { cid: string; id: string; body: string }[] {
    this.collect();
    const out: { cid: string; id: string; body: string }[] = [];
    for (const [cid, record] of this.records) {
      if (record.answer?.type === 'accepted' && (to === undefined || record.to === to)) {
        out.push({ cid, id: record.answer.id, body: record.body });
      }
    }
    return out;
  }

  statusOf(cid: string): string | undefined {
    const answer = this.records.get(cid)?.answer;
    return answer?.type === 'accepted' ? answer.status : undefined;
  }

  refused(): { cid: string; code: string; body: string }[] {
    this.collect();
    const out: { cid: string; code: string; body: string }[] = [];
    for (const [cid, record] of this.records) {
      if (record.answer?.type === 'error') out.push({ cid, code: record.answer.code, body: record.body });
    }
    return out;
  }
}

/** Ids that came more than once on the same connection (must be none). */
export function repeatsWithinConnections(connections: readonly Delivered[][]): string[] {
  const repeats: string[] = [];
  for (const messages of connections) {
    const seen = new Set<string>();
    for (const message of messages) {
      if (seen.has(message.id)) repeats.push(message.id);
      seen.add(message.id);
    }
  }
  return repeats;
}

/** Messages from `from`, in the order they first arrived across connections taken in time order. */
export function firstArrivals(connections: readonly Delivered[][], from: string): Delivered[] {
  const seen = new Set<string>();
  const out: Delivered[] = [];
  for (const messages of connections) {
    for (const message of messages) {
      if (message.from !== from || seen.has(message.id)) continue;
      seen.add(message.id);
      out.push(message);
    }
  }
  return out;
}

/** Sends an ack for `ids` (in chunks within the protocol's 1,000) and proves it was processed. */
export async function ackAndConfirm(client: TestClient, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 1000) client.sendJson({ type: 'ack', ids: ids.slice(i, i + 1000) });
  // Acks have no reply: a pong after them proves the gateway handled them in order.
  const pongs = client.all('pong').length;
  client.sendJson({ type: 'ping' });
  await client.waitFor(() => (client.all('pong').length > pongs ? true : undefined), 10_000, 'a pong');
}
