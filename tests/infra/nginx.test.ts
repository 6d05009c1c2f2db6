/** nginx from nginx/native.conf.template proxies WebSocket upgrades and reloads without drops. */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { startNginx, type RunningNginx } from '../support/nginx';

interface EchoServer {
  port: number;
  upgrades: IncomingMessage[];
  close(): Promise<void>;
}

function startEchoServer(name: string): Promise<EchoServer> {
  return new Promise((resolveServer) => {
    const upgrades: IncomingMessage[] = [];
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' });
    server.on('connection', (socket, request) => {
      upgrades.push(request);
      socket.on('message', (data) => socket.send(`${name}:${data.toString()}`));
    });
    server.on('listening', () =>
      resolveServer({
        port: (server.address() as AddressInfo).port,
        upgrades,
        close: () => new Promise((done) => server.close(() => done())),
      }),
    );
  });
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolveOpen, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => resolveOpen(socket));
    socket.once('error', reject);
  });
}

function roundTrip(socket: WebSocket, text: string): Promise<string> {
  return new Promise((resolveReply, reject) => {
    socket.once('message', (data) => resolveReply(data.toString()));
    socket.once('error', reject);
    socket.send(text);
  });
}

describe('nginx (real, native template)', () => {
  let a: EchoServer;
  let b: EchoServer;
  let edge: RunningNginx;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([startEchoServer('a'), startEchoServer('b')]);
    edge = await startNginx({ upstreamPorts: [a.port] });
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.terminate());
    await edge?.stop();
    await Promise.all([a?.close(), b?.close()]);
  });

  it('upgrades /ws through nginx and echoes, with forwarding headers', async () => {
    const socket = await open(`${edge.url}/ws?token=test`);
    sockets.push(socket);
    expect(await roundTrip(socket, 'hello')).toBe('a:hello');

    const upgrade = a.upgrades[0];
    expect(upgrade?.headers['x-real-ip']).toBe('127.0.0.1');
    expect(upgrade?.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(upgrade?.url).toBe('/ws?token=test');
  });

  it('reloads to new upstreams while an open WebSocket keeps working', async () => {
    const before = await open(`${edge.url}/ws`);
    sockets.push(before);
    expect(await roundTrip(before, 'one')).toBe('a:one');

    await edge.reload([b.port]);

    const after = await open(`${edge.url}/ws`);
    sockets.push(after);
    expect(await roundTrip(after, 'two')).toBe('b:two');
    expect(await roundTrip(before, 'three')).toBe('a:three');
  });

  it('answers paths outside the API with 404 without touching the gateways', async () => {
    const response = await fetch(`${edge.httpUrl}/admin`);
    expect(response.status).toBe(404);
  });
});
