/**
 * The benchmark's reference: the textbook Socket.IO 4 direct-messaging server, to compare postbox
 * with on the same machine, nginx, Redis and load (tools/bench/bench.ts starts two instances).
 *
 * - websocket transport only, served on `path` /ws (the path nginx proxies for the gateways, so the
 *   nginx config is literally the same);
 * - the same JWT as the gateways (HS256 with JWT_SECRET, `exp` and `sub` required, verified with
 *   jose), taken from the handshake's `auth.token` or an `Authorization: Bearer` header;
 * - each socket joins a room named after its user; `send` {to, body, cid} emits `message`
 *   {id, from, to, body, ts} to room `to` through @socket.io/redis-adapter (Redis pub/sub, so it
 *   reaches the recipient on either instance) and answers the ack with {type:'accepted', cid, id, ts};
 * - no mailbox, no acks, no ordering or presence: what postbox does beyond this is its own cost.
 *
 * Env: PORT, HOST (127.0.0.1), JWT_SECRET, REDIS_URL, SIO_KEY (the adapter's channel prefix),
 * INSTANCE_ID. GET /healthz answers 200 once both Redis connections are ready. SIGTERM closes.
 *
 * bench.ts compiles this file to plain JS with esbuild and runs it with `node` (no ts-node at run
 * time). It imports nothing from the repository, only packages.
 */
import { createServer } from 'node:http';
import { createSecretKey } from 'node:crypto';
import { Redis } from 'ioredis';
import { jwtVerify } from 'jose';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';

const USER_ID = /^[A-Za-z0-9._@:-]{1,128}$/;
const CID = /^[A-Za-z0-9._:-]{1,64}$/;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

const port = Number(required('PORT'));
const host = process.env.HOST ?? '127.0.0.1';
const key = createSecretKey(Buffer.from(required('JWT_SECRET'), 'utf8'));
const redisUrl = required('REDIS_URL');
const instance = process.env.INSTANCE_ID ?? `sio-${process.pid}`;

const pub = new Redis(redisUrl);
const sub = pub.duplicate();
const http = createServer((req, res) => {
  if (req.url === '/healthz') {
    const ready = pub.status === 'ready' && sub.status === 'ready';
    res.writeHead(ready ? 200 : 503).end(ready ? 'ok\n' : 'redis not ready\n');
    return;
  }
  res.writeHead(404).end();
});

const io = new Server(http, {
  path: '/ws',
  addTrailingSlash: false,
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  adapter: createAdapter(pub, sub, { key: process.env.SIO_KEY ?? 'socket.io' }),
});

io.use((socket, next) => {
  const auth: unknown = socket.handshake.auth;
  const fromAuth =
    typeof auth === 'object' && auth !== null && 'token' in auth && typeof auth.token === 'string'
      ? auth.token
      : undefined;
  const header = socket.handshake.headers.authorization;
  const token = fromAuth ?? (header?.startsWith('Bearer ') ? header.slice(7) : undefined);
  if (token === undefined) return next(new Error('unauthorized: no token'));
  jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'], clockTolerance: 5 }).then(
    ({ payload }) => {
      if (typeof payload.sub !== 'string' || !USER_ID.test(payload.sub))
        return next(new Error('unauthorized: bad sub'));
      socket.data.user = payload.sub;
      next();
    },
    () => next(new Error('unauthorized: invalid token')),
  );
});

let sequence = 0;

interface SendEvent {
  to?: unknown;
  body?: unknown;
  cid?: unknown;
}

io.on('connection', (socket) => {
  const user = socket.data.user as string;
  void socket.join(user);
  socket.on('send', (event: SendEvent, ack: unknown) => {
    if (typeof ack !== 'function') return;
    const cid = typeof event?.cid === 'string' && CID.test(event.cid) ? event.cid : undefined;
    const { to, body } = event ?? {};
    if (typeof to !== 'string' || !USER_ID.test(to) || typeof body !== 'string' || body.length === 0) {
      ack({ type: 'error', code: 'invalid_frame', cid });
      return;
    }
    const id = `${instance}:${(sequence += 1).toString(36)}`;
    const ts = Date.now();
    io.to(to).emit('message', { id, from: user, to, body, ts });
    ack({ type: 'accepted', cid, id, ts });
  });
});

http.listen(port, host);

process.once('SIGTERM', () => {
  void io.close(() => {
    pub.disconnect();
    sub.disconnect();
    process.exit(0);
  });
  setTimeout(() => process.exit(0), 5000).unref();
});
