/**
 * `cid` idempotency end to end (docs/protocol.md): the same sender and cid give the first send's
 * `accepted` and no second delivery, whatever the repeat carries, across reconnects, other
 * gateways and acks; two senders may use the same cid. Through real nginx to two gateways.
 *
 * "Nothing delivered again" is proven with a sentinel: a fresh message sent after the repeat
 * arrives after anything the repeat would have delivered (one sender → one recipient is ordered).
 */
import { TestClient } from '../support/client';
import type { GatewayProcess } from '../support/gateways';
import type { RunningNginx } from '../support/nginx';
import { startTwoGatewayEdge, stopTwoGatewayEdge } from '../support/edge';
import { connectAs, uniqueUser } from '../support/streams';

let gateways: GatewayProcess[] = [];
let edge: RunningNginx;
const clients: TestClient[] = [];

beforeAll(async () => {
  ({ gateways, edge } = await startTwoGatewayEdge());
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  await stopTwoGatewayEdge(gateways, edge);
});

async function connect(user: string, url = edge.url): Promise<TestClient> {
  const client = await connectAs(user, url);
  clients.push(client);
  await client.next('synced');
  return client;
}

/** The gateway of the other side from this client's. */
function otherGateway(client: TestClient): GatewayProcess {
  const welcome = client.frames[0];
  const current = welcome?.type === 'welcome' ? welcome.gateway : '';
  const other = gateways.find((gateway) => gateway.id !== current);
  if (other === undefined) throw new Error('no other gateway');
  return other;
}

async function accepted(client: TestClient, to: string, body: string, cid: string) {
  const answer = await client.send(to, body, cid);
  if (answer.type !== 'accepted') throw new Error(`not accepted: ${JSON.stringify(answer)}`);
  return answer;
}

/** Every answer to this cid on the client; `send` returns only the first. */
function answersTo(client: TestClient, cid: string) {
  return client.all('accepted').filter((frame) => frame.cid === cid);
}

/** Sends a sentinel and returns the bodies `recipient` got up to and including it. */
async function bodiesUpToSentinel(sender: TestClient, recipient: TestClient, to: string): Promise<string[]> {
  const sentinel = `sentinel ${Math.random()}`;
  await accepted(sender, to, sentinel, `s-${Math.random().toString(36).slice(2, 10)}`);
  await recipient.waitFor(
    () => (recipient.messages().some((m) => m.body === sentinel) ? true : undefined),
    15_000,
    'the sentinel',
  );
  return recipient.messages().map((m) => m.body);
}

test('the same cid twice: same id, ts and status, one delivery', async () => {
  const [alice, bob] = [uniqueUser('alice'), uniqueUser('bob')];
  const [a, b] = [await connect(alice), await connect(bob)];
  const first = await accepted(a, bob, 'once', 'same-1');
  a.sendJson({ type: 'send', to: bob, body: 'once', cid: 'same-1' });
  await a.waitFor(() => (answersTo(a, 'same-1').length === 2 ? true : undefined));
  expect(answersTo(a, 'same-1')).toEqual([first, first]);
  expect(first.status).toBe('sent');
  const bodies = await bodiesUpToSentinel(a, b, bob);
  expect(bodies.filter((body) => body === 'once')).toHaveLength(1);
});

test('a repeat with another `to` and `body` returns the first answer and delivers nothing new', async () => {
  const [alice, bob, carol] = [uniqueUser('alice'), uniqueUser('bob'), uniqueUser('carol')];
  const [a, b, c] = [await connect(alice), await connect(bob), await connect(carol)];
  const first = await accepted(a, bob, 'for bob', 'swap-1');
  a.sendJson({ type: 'send', to: carol, body: 'for carol', cid: 'swap-1' });
  await a.waitFor(() => (answersTo(a, 'swap-1').length === 2 ? true : undefined));
  expect(answersTo(a, 'swap-1')[1]).toEqual(first);
  expect((await bodiesUpToSentinel(a, b, bob)).filter((body) => body.startsWith('for '))).toEqual([
    'for bob',
  ]);
  expect((await bodiesUpToSentinel(a, c, carol)).filter((body) => body.startsWith('for '))).toEqual([]);
});

test('the same cid after a reconnect to the other gateway, and after the recipient acked', async () => {
  const [alice, bob] = [uniqueUser('alice'), uniqueUser('bob')];
  let a = await connect(alice);
  // Bob is offline: the first answer is `queued`, and a repeat must say `queued` too.
  const first = await accepted(a, bob, 'queued once', 'again-1');
  expect(first.status).toBe('queued');
  const elsewhere = otherGateway(a);
  await a.close();
  a = await connect(alice, elsewhere.url);
  expect(await a.send(bob, 'queued once', 'again-1')).toEqual(first);

  let b = await connect(bob);
  expect(b.messages().map((m) => m.id)).toEqual([first.id]);
  b.sendJson({ type: 'ack', ids: [first.id] });
  b.sendJson({ type: 'ping' });
  await b.next('pong');
  await b.close();
  // After the ack, from yet another connection: still the first answer, still nothing delivered.
  await a.close();
  a = await connect(alice, otherGateway(a).url);
  expect(await a.send(bob, 'something else', 'again-1')).toEqual(first);
  b = await connect(bob);
  expect(b.messages()).toEqual([]);
  expect(await bodiesUpToSentinel(a, b, bob)).toEqual([expect.stringMatching(/^sentinel /)]);
});

test('two senders using the same cid get two different messages, both delivered', async () => {
  const [alice, dave, bob] = [uniqueUser('alice'), uniqueUser('dave'), uniqueUser('bob')];
  const [a, d, b] = [await connect(alice), await connect(dave), await connect(bob)];
  const fromAlice = await accepted(a, bob, 'from alice', 'shared-1');
  const fromDave = await accepted(d, bob, 'from dave', 'shared-1');
  expect(fromDave.id).not.toBe(fromAlice.id);
  await b.waitFor(() => (b.messages().length >= 2 ? true : undefined));
  expect(new Map(b.messages().map((m) => [m.id, m.body]))).toEqual(
    new Map([
      [fromAlice.id, 'from alice'],
      [fromDave.id, 'from dave'],
    ]),
  );
});
