/**
 * TLS at the edge, end to end: tools/certs.sh makes a dev CA and a localhost/127.0.0.1
 * certificate; real nginx (nginx/native.conf.template with TLS) serves wss:// in front of two
 * real gateways and answers plain HTTP with a 301 to https; only clients trusting the CA connect.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { TestClient } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { startNginx, type RunningNginx, type RunningTls } from '../support/nginx';
import { ackAndConfirm, uniqueUser } from '../support/streams';
import { tokenFor } from '../support/tokens';

const CERTS_SCRIPT = resolve(__dirname, '..', '..', 'tools', 'certs.sh');
const FILES = ['ca.pem', 'ca-key.pem', 'server.pem', 'server-key.pem'];

let workDir = '';
let certDir = '';
let ca: Buffer;
let gateways: GatewayProcess[] = [];
let edge: RunningNginx;
let tls: RunningTls;
const clients: TestClient[] = [];

/** Runs tools/certs.sh into `dir`; returns its output (throws with it on failure). */
function makeCerts(dir: string, extraEnv: Record<string, string> = {}): string {
  const result = spawnSync(CERTS_SCRIPT, {
    encoding: 'utf8',
    env: { ...process.env, CERTS_DIR: dir, ...extraEnv },
  });
  if (result.status !== 0) throw new Error(`tools/certs.sh failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

const contents = (dir: string): string[] => FILES.map((file) => readFileSync(join(dir, file), 'utf8'));

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'postbox-tls-'));
  certDir = join(workDir, 'certs');
  makeCerts(certDir);
  ca = readFileSync(join(certDir, 'ca.pem'));
});

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('tools/certs.sh (make certs)', () => {
  test('a CA and a server certificate for localhost and 127.0.0.1 signed by it, keys 0600', () => {
    const server = new X509Certificate(readFileSync(join(certDir, 'server.pem')));
    const authority = new X509Certificate(ca);
    expect(authority.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.verify(authority.publicKey)).toBe(true);
    expect(server.subjectAltName?.split(', ')).toEqual(
      expect.arrayContaining(['DNS:localhost', 'IP Address:127.0.0.1']),
    );
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    for (const key of ['ca-key.pem', 'server-key.pem']) {
      expect({ key, mode: (statSync(join(certDir, key)).mode & 0o777).toString(8) }).toEqual({
        key,
        mode: '600',
      });
    }
  });

  test('keeps existing files, makes new ones with FORCE=1, and says how to trust the CA', () => {
    const dir = join(workDir, 'again');
    makeCerts(dir);
    const first = contents(dir);
    const output = makeCerts(dir);
    expect(contents(dir)).toEqual(first);
    expect(output).toContain(`NODE_EXTRA_CA_CERTS=${join(dir, 'ca.pem')}`);
    expect(output).toContain('update-ca-certificates');
    makeCerts(dir, { FORCE: '1' });
    const forced = contents(dir);
    FILES.forEach((file, i) => expect({ file, same: forced[i] === first[i] }).toEqual({ file, same: false }));
  });
});

describe('nginx with TLS in front of two gateways', () => {
  beforeAll(async () => {
    const env = isolatedEnv();
    gateways = await Promise.all([startGateway({ env }), startGateway({ env })]);
    edge = await startNginx({ upstreamPorts: gateways.map((gateway) => gateway.port), tls: { certDir } });
    if (edge.tls === undefined) throw new Error('startNginx ignored tls');
    tls = edge.tls;
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await edge?.stop();
    await Promise.all(gateways.map((gateway) => gateway.stop()));
  });

  test('alice and bob over wss:// trusting the dev CA: a message and its ack round trip', async () => {
    const [alice, bob] = [uniqueUser('alice'), uniqueUser('bob')];
    const a = await TestClient.connect(tls.url, { token: await tokenFor(alice), ca });
    clients.push(a);
    // The certificate also names localhost.
    const b = await TestClient.connect(tls.url.replace('127.0.0.1', 'localhost'), {
      token: await tokenFor(bob),
      ca,
    });
    clients.push(b);
    const gatewayOf = (client: TestClient) => client.all('welcome')[0]?.gateway;
    // least_conn sends the second connection to the other gateway: the message crosses Kafka.
    expect(gatewayOf(a)).not.toEqual(gatewayOf(b));
    await b.next('synced');

    const accepted = await a.send(bob, 'hello over TLS', 'tls-1');
    expect(accepted).toMatchObject({ type: 'accepted', cid: 'tls-1' });
    const message = await b.next('message');
    expect(message).toMatchObject({ from: alice, body: 'hello over TLS' });
    await ackAndConfirm(b, [message.id]);

    // Acked: a new connection of bob gets an empty mailbox.
    await b.close();
    const again = await TestClient.connect(tls.url, { token: await tokenFor(bob), ca });
    clients.push(again);
    await again.next('synced');
    expect(again.messages()).toEqual([]);
  });

  test('plain HTTP answers 301 to the https port, for WebSocket upgrades too', async () => {
    const redirect = await plainGet('/healthz');
    expect(redirect).toEqual({ status: 301, location: `https://127.0.0.1:${tls.port}/healthz` });

    const upgrade = await plainGet('/ws?token=abc', { connection: 'Upgrade', upgrade: 'websocket' });
    expect(upgrade).toEqual({ status: 301, location: `https://127.0.0.1:${tls.port}/ws?token=abc` });

    const refusal = await TestClient.refusal(edge.url, { authorization: `Bearer ${await tokenFor('eve')}` });
    expect(refusal.status).toBe(301);
  });

  test('a client that does not trust the dev CA is refused during the TLS handshake', async () => {
    const otherDir = join(workDir, 'other');
    makeCerts(otherDir);
    const token = await tokenFor(uniqueUser('mallory'));
    // Default trust store (no dev CA), then another CA: both must fail verification.
    for (const trusted of [undefined, readFileSync(join(otherDir, 'ca.pem'))]) {
      const error = await handshakeError(`${tls.url}/ws`, token, trusted);
      expect(error).toMatch(
        /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/,
      );
    }
  });
});

function plainGet(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number | undefined; location: string | undefined }> {
  return new Promise((done, reject) => {
    const request = get(`${edge.httpUrl}${path}`, { headers }, (response) => {
      response.resume();
      done({ status: response.statusCode, location: response.headers.location });
    });
    request.on('error', reject);
  });
}

/** The error code of a wss:// connection that must not open. */
function handshakeError(url: string, token: string, trusted: Buffer | undefined): Promise<string> {
  return new Promise((done, reject) => {
    const socket = new WebSocket(url, {
      headers: { authorization: `Bearer ${token}` },
      ...(trusted === undefined ? {} : { ca: trusted }),
    });
    socket.once('open', () => {
      socket.terminate();
      reject(new Error('the connection opened without trusting the server certificate'));
    });
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
  });
}
