/**
 * Overload handled on purpose (docs/protocol.md, Overload): one real gateway with a small bound on
 * sends in flight (MAX_INFLIGHT_SENDS=20) and no per-connection limit in the way, driven far past
 * it by several connections sending thousands of frames without waiting. Past the bound a send is
 * refused at once with `rate_limited` and `retryAfterMs`; nothing times out or turns into
 * `unavailable`; every send gets exactly one answer; everything accepted reaches its connected
 * recipient, who acks while the load runs; /readyz stays 200 and a new user can still connect
 * meanwhile; and the refused cids, retried as a well-behaved client would, are accepted.
 */
import type { Frame, TestClient } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import {
  ackAndConfirm,
  CidSender,
  connectAs,
  repeatsWithinConnections,
  uniqueUser,
} from '../support/streams';

const SENDERS = 4;
const SENDS_EACH = 1000;
const MAX_INFLIGHT_SENDS = 20;
/** Sends a retrying sender keeps unanswered: together, the gateway's bound. */
const RETRY_WINDOW = MAX_INFLIGHT_SENDS / SENDERS;

type Answer = Extract<Frame, { type: 'accepted' } | { type: 'error' }>;

let gateway: GatewayProcess;
const clients: TestClient[] = [];

beforeAll(async () => {
  gateway = await startGateway({
    env: {
      ...isolatedEnv(),
      MAX_INFLIGHT_SENDS: String(MAX_INFLIGHT_SENDS),
      RATE_SENDS_PER_SECOND: '1000000',
      RATE_SEND_BURST: '1000000',
      RATE_BYTES_PER_SECOND: String(1024 * 1024 * 1024),
    },
  });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await gateway?.stop();
});

async function connect(user: string): Promise<TestClient> {
  const client = await connectAs(user, gateway.url);
  clients.push(client);
  await client.next('synced');
  return client;
}

/** Acks every message as it arrives, as an app would, so acks run under the same load. */
function ackOnArrival(client: TestClient): void {
  client.ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { type?: string; id?: string };
    if (frame.type === 'message' && frame.id !== undefined) client.sendJson({ type: 'ack', ids: [frame.id] });
  });
}

/** Every answer to a send on the sender's connection, by cid, in arrival order. */
function answersByCid(sender: CidSender): Map<string, Answer[]> {
  const client = sender.client;
  if (client === undefined) throw new Error('not connected');
  const byCid = new Map<string, Answer[]>();
  for (const frame of client.frames) {
    if ((frame.type !== 'accepted' && frame.type !== 'error') || frame.cid === undefined) continue;
    byCid.set(frame.cid, [...(byCid.get(frame.cid) ?? []), frame]);
  }
  return byCid;
}

/** /readyz statuses, polled one after another until `done` settles. */
async function pollReadiness(done: Promise<unknown>): Promise<number[]> {
  let finished = false;
  void done.finally(() => {
    finished = true;
  });
  const statuses: number[] = [];
  while (!finished) statuses.push((await fetch(`${gateway.httpUrl}/readyz`)).status);
  return statuses;
}

/**
 * Sends the refused cids again (same cid, recipient and body), at most RETRY_WINDOW unanswered at
 * a time, waiting out `retryAfterMs` whenever the gateway refuses one again.
 */
async function retryRefused(sender: CidSender): Promise<void> {
  const client = sender.client;
  if (client === undefined) throw new Error('not connected');
  const waiting = sender.refused().map(({ cid }) => cid);
  const deadline = Date.now() + 60_000;
  while (waiting.length > 0) {
    if (Date.now() > deadline) throw new Error(`${waiting.length} cids of ${sender.user} still refused`);
    const wave = waiting.splice(0, RETRY_WINDOW);
    const seen = client.frames.length;
    for (const cid of wave) {
      const record = sender.records.get(cid);
      if (record === undefined) throw new Error(`unknown cid ${cid}`);
      client.sendJson({ type: 'send', to: record.to, body: record.body, cid });
    }
    const answers = await client.waitFor(() => {
      const found = client.frames
        .slice(seen)
        .filter((frame): frame is Answer => frame.type === 'accepted' || frame.type === 'error');
      return found.length >= wave.length ? found : undefined;
    });
    const refused = answers.filter((answer) => answer.type === 'error');
    for (const answer of refused) {
      expect(answer).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
      if (answer.cid !== undefined) waiting.push(answer.cid);
    }
    const wait = Math.max(
      0,
      ...refused.map((answer) => (answer.type === 'error' ? (answer.retryAfterMs ?? 0) : 0)),
    );
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

test('past its bound a gateway refuses at once and loses nothing it accepted', async () => {
  const recipients = [uniqueUser('rcpt'), uniqueUser('rcpt')];
  const inboxes = await Promise.all(recipients.map(connect));
  inboxes.forEach(ackOnArrival);
  const senders = Array.from({ length: SENDERS }, (_, i) => new CidSender(uniqueUser(`blast${i}`)));
  for (const sender of senders) clients.push(await sender.connect(gateway.url));

  // The blast: every sender writes all its sends at once, then waits for the answers.
  for (const sender of senders)
    for (let i = 0; i < SENDS_EACH; i += 1) sender.send(recipients[i % recipients.length] ?? '');
  const answered = Promise.all(senders.map((sender) => sender.settle(120_000)));
  const readiness = pollReadiness(answered);
  const latecomer = connect(uniqueUser('latecomer'));
  await answered;
  expect(new Set(await readiness)).toEqual(new Set([200]));
  expect((await latecomer).closed).toBeUndefined();

  // Exactly one answer per send, each `accepted` or a `rate_limited` refusal saying when to retry:
  // no `unavailable` (what a Redis command timeout becomes), no `internal`.
  let accepted = 0;
  let refused = 0;
  for (const sender of senders) {
    const byCid = answersByCid(sender);
    expect(byCid.size).toBe(SENDS_EACH);
    for (const answers of byCid.values()) {
      expect(answers).toHaveLength(1);
      const [answer] = answers;
      if (answer?.type === 'accepted') accepted += 1;
      else {
        expect(answer).toEqual({
          type: 'error',
          code: 'rate_limited',
          message: expect.any(String),
          cid: expect.any(String),
          retryAfterMs: expect.any(Number),
        });
        refused += 1;
      }
    }
  }
  console.log(`blast of ${SENDERS * SENDS_EACH}: ${accepted} accepted, ${refused} refused at once`);
  expect(refused).toBeGreaterThan(0);
  expect(accepted).toBeGreaterThan(0);
  // The gateway counted each refusal as overload, and sent no `unavailable` or `internal` at all.
  const metrics = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
  const overload = [
    ...metrics.matchAll(/^postbox_sends_refused_total\{reason="(?:in_flight|behind)"\} (\d+)$/gm),
  ];
  expect(overload.reduce((sum, [, count]) => sum + Number(count), 0)).toBe(refused);
  expect(metrics).not.toMatch(/^postbox_errors_total\{code="(?:unavailable|internal)"\} [1-9]/m);

  // Retried as the refusals say, every refused cid is accepted.
  await Promise.all(senders.map(retryRefused));
  for (const sender of senders) expect(sender.refused()).toEqual([]);

  // Every accepted id reaches its recipient, once after dropping repeats; nothing refused arrives.
  for (const [index, recipient] of recipients.entries()) {
    const inbox = inboxes[index];
    if (inbox === undefined) throw new Error('no inbox');
    const expected = senders.flatMap((sender) => sender.accepted(recipient).map(({ id }) => id));
    expect(expected).toHaveLength((SENDERS * SENDS_EACH) / recipients.length);
    await inbox.waitFor(
      () => {
        const ids = new Set(inbox.messages().map((message) => message.id));
        return expected.every((id) => ids.has(id)) ? true : undefined;
      },
      60_000,
      `the ${expected.length} messages accepted for ${recipient}`,
    );
    expect(repeatsWithinConnections([inbox.messages()])).toEqual([]);
    expect(new Set(inbox.messages().map((message) => message.id))).toEqual(new Set(expected));
  }

  // The acks sent under load all took effect: a new connection finds both mailboxes empty.
  for (const [index, recipient] of recipients.entries()) {
    const inbox = inboxes[index];
    if (inbox === undefined) throw new Error('no inbox');
    await ackAndConfirm(inbox, []);
    const again = await connect(recipient);
    expect(again.messages()).toEqual([]);
  }
});
