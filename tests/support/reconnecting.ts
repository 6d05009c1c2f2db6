/**
 * Clients that behave like real apps when their gateway goes away (SIGKILL, SIGTERM): recipients
 * ack what they get and reconnect; senders reconnect and resend unanswered sends with the same
 * cid. Plus the "nothing accepted is lost" check over what they recorded.
 */
import type { TestClient } from './client';
import {
  connectRetrying,
  firstArrivals,
  repeatsWithinConnections,
  type CidSender,
  type Delivered,
} from './streams';

export interface Traffic {
  /** Where (re)connections go: nginx. */
  url: string;
  /** True once the test ends, however it ends: loops stop reconnecting. */
  stopped(): boolean;
  /** Every client opened, for the test's cleanup. */
  track(client: TestClient): void;
}

export class Recipient {
  readonly connections: TestClient[] = [];
  constructor(
    readonly user: string,
    private readonly traffic: Traffic,
  ) {}

  get current(): TestClient | undefined {
    return this.connections[this.connections.length - 1];
  }

  async connect(url = this.traffic.url): Promise<TestClient> {
    const client = await connectRetrying(this.user, url);
    this.traffic.track(client);
    this.connections.push(client);
    // Ack each message as it arrives (TestClient recorded it first), as a real client would.
    client.ws.on('message', () => {
      const last = client.frames[client.frames.length - 1];
      if (last?.type === 'message' && client.closed === undefined) {
        client.sendJson({ type: 'ack', ids: [last.id] });
      }
    });
    return client;
  }

  async keepConnected(): Promise<void> {
    const { stopped } = this.traffic;
    while (!stopped()) {
      const current = this.current;
      if (current !== undefined && current.closed === undefined) {
        await current.waitFor(() => (stopped() || current.closed !== undefined ? true : undefined), 60_000);
      } else {
        await this.connect();
      }
    }
  }

  /** A last connection: whatever is still unacknowledged arrives with its sync. */
  async finalSync(): Promise<void> {
    await this.current?.close();
    const client = await this.connect();
    await client.next('synced', 30_000);
  }

  delivered(): Delivered[][] {
    return this.connections.map((client) => client.messages());
  }
}

/** Streams `count` sends to the recipients in turn (~200/s); after a lost connection, reconnects and resends. */
export async function streamWithRetries(
  sender: CidSender,
  recipients: string[],
  count: number,
  traffic: Traffic,
): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    if (traffic.stopped()) return;
    if (sender.client?.closed !== undefined) await reconnectSender(sender, traffic);
    sender.send(recipients[i % recipients.length] ?? '');
    if (i % 5 === 4) await new Promise((wake) => setTimeout(wake, 25)); // ~200 sends/s: pacing, not a wait
  }
  while (!traffic.stopped()) {
    await sender.settle(60_000);
    if (sender.unanswered() === 0) return;
    await reconnectSender(sender, traffic);
  }
}

async function reconnectSender(sender: CidSender, traffic: Traffic): Promise<void> {
  const client = await sender.connect(traffic.url);
  traffic.track(client);
  await client.next('synced', 30_000);
  sender.resendUnanswered();
}

/** What broke "nothing accepted is lost" and "exactly once after dedupe"; empty when all held. */
export function deliveryProblems(senders: readonly CidSender[], recipients: readonly Recipient[]): string[] {
  const problems: string[] = [];
  for (const sender of senders) {
    for (const [cid, ids] of sender.acceptedIds) {
      if (ids.size !== 1) problems.push(`${cid} was accepted under ${ids.size} ids`);
    }
  }
  for (const recipient of recipients) {
    const connections = recipient.delivered();
    for (const id of repeatsWithinConnections(connections)) {
      problems.push(`${id} came twice on one connection of ${recipient.user}`);
    }
    for (const sender of senders) {
      const arrived = firstArrivals(connections, sender.user);
      const got = new Set(arrived.map((m) => m.id));
      for (const a of sender.accepted(recipient.user)) {
        if (!got.has(a.id))
          problems.push(`${a.cid} (${a.id}) accepted but never delivered to ${recipient.user}`);
      }
      const bodies = arrived.map((m) => m.body);
      if (new Set(bodies).size !== bodies.length)
        problems.push(`one cid arrived under two ids at ${recipient.user}`);
    }
  }
  return problems;
}
