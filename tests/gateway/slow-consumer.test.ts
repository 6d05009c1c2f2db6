/**
 * A client that stops reading: the gateway closes it with 1013 once its unread output passes
 * MAX_BUFFERED_BYTES, and nothing sent to it is lost: the messages wait in its mailbox and its
 * next normal connection receives them all. Real nginx in front of two real gateways for the
 * sender and the later reader; the paused client connects straight to one gateway, because every
 * proxy hop adds kernel buffers that would only lengthen the stream needed to fill it.
 */
import { TestClient } from '../support/client';
import type { GatewayProcess } from '../support/gateways';
import type { RunningNginx } from '../support/nginx';
import { startTwoGatewayEdge, stopTwoGatewayEdge } from '../support/edge';
import { openPausedWebSocket } from '../support/raw-ws';
import { CidSender, connectAs, uniqueUser } from '../support/streams';
import { tokenFor } from '../support/tokens';

const BODY = 'x'.repeat(60_000);
const MAX_MESSAGES = 600; // ~36 MB: far beyond what kernel buffers on loopback absorb

let gateways: GatewayProcess[] = [];
let edge: RunningNginx;
const clients: TestClient[] = [];

beforeAll(async () => {
  ({ gateways, edge } = await startTwoGatewayEdge({
    MAX_BUFFERED_BYTES: '65536',
    // Room for a fast stream of large messages: the limit under test is the reader's, not the sender's.
    RATE_SENDS_PER_SECOND: '2000',
    RATE_SEND_BURST: '2000',
    RATE_BYTES_PER_SECOND: String(256 * 1024 * 1024),
  }));
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await stopTwoGatewayEdge(gateways, edge);
});

async function slowConsumerCloses(gateway: GatewayProcess): Promise<number> {
  const text = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('postbox_closes_total{code="1013"}'));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

test('a client that never reads is closed with 1013 and later receives everything from its mailbox', async () => {
  const [alice, bob] = [uniqueUser('alice'), uniqueUser('bob')];
  const [target] = gateways;
  if (target === undefined) throw new Error('no gateway');
  const before = await slowConsumerCloses(target);
  const paused = await openPausedWebSocket(target.port, await tokenFor(bob), '"synced"');

  const sender = new CidSender(alice);
  clients.push(await sender.connect(edge.url));
  // Batches of large messages until the gateway reports the slow consumer closed.
  let closed = false;
  while (!closed && sender.records.size < MAX_MESSAGES) {
    for (let i = 0; i < 20; i += 1) sender.send(bob, BODY);
    await sender.settle();
    closed = (await slowConsumerCloses(target)) > before;
  }
  expect(closed).toBe(true);
  // Bob was online until the close: every message before the last batch went out live (large
  // ones too: the bus must batch them under the broker's size limit, or a whole batch fails and
  // all of them turn `queued`). Sends of the last batch accepted after the close are `queued`.
  const beforeLastBatch = sender.accepted(bob).slice(0, -20);
  expect(new Set(beforeLastBatch.map((a) => sender.statusOf(a.cid)))).toEqual(new Set(['sent']));
  // A few more after the close: they wait in the mailbox as well.
  for (let i = 0; i < 5; i += 1) sender.send(bob, BODY);
  await sender.settle();
  expect(sender.refused()).toEqual([]);

  // Reading again: what the gateway managed to write, then the end of the stream (a close frame
  // with 1013 when it got out before the socket was torn down).
  expect([1013, undefined]).toContain(await paused.readUntilClose(30_000));

  const ids = sender.accepted(bob).map((a) => a.id);
  const reader = await connectAs(bob, edge.url);
  clients.push(reader);
  await reader.next('synced', 60_000);
  expect(reader.messages().map((m) => m.id)).toEqual(ids);
  expect(reader.messages().every((m) => m.body === BODY)).toBe(true);
});
