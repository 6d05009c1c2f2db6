/**
 * A test WebSocket client that records every server frame, parsed through libs/protocol, and
 * lets a test wait for the frames it expects (with a deadline), never for a fixed time.
 */
import WebSocket from 'ws';
import { parseServerFrame, type ServerFrame } from '@postbox/protocol';

export type Frame = ServerFrame;
type FrameOf<K extends Frame['type']> = Extract<Frame, { type: K }>;

export interface Refusal {
  status: number;
  body: string;
}

export class TestClient {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  private cursor = 0;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const parsed = parseServerFrame(isBinary ? '' : data.toString());
      if (!parsed.ok)
        throw new Error(`server sent a frame outside the protocol: ${data.toString().slice(0, 200)}`);
      this.frames.push(parsed.frame);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => this.wake());
  }

  /** Opens a connection; resolves after `welcome` (or rejects with the HTTP refusal). */
  static async connect(
    url: string,
    options: { token?: string; header?: string; origin?: string; ca?: string | Buffer } = {},
  ): Promise<TestClient> {
    const headers: Record<string, string> = {};
    if (options.header !== undefined) headers.authorization = options.header;
    else if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.origin !== undefined) headers.origin = options.origin;
    // `ca`: the only CA trusted for a wss:// url (a test CA, not the system store).
    const ws = new WebSocket(`${url}/ws`, {
      headers,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
    const client = new TestClient(ws);
    await new Promise<void>((done, reject) => {
      ws.once('open', () => done());
      ws.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () =>
          reject(
            Object.assign(new Error(`refused ${response.statusCode}`), { status: response.statusCode, body }),
          ),
        );
      });
      ws.once('error', reject);
    });
    await client.next('welcome');
    return client;
  }

  /** The HTTP refusal of an upgrade that must fail. */
  static async refusal(url: string, headers: Record<string, string>, path = '/ws'): Promise<Refusal> {
    const ws = new WebSocket(`${url}${path}`, { headers });
    return new Promise((done, reject) => {
      ws.once('open', () => {
        ws.close();
        reject(new Error('the upgrade was accepted'));
      });
      ws.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => done({ status: response.statusCode ?? 0, body }));
      });
      ws.once('error', () => undefined);
    });
  }

  sendJson(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** The next unread frame of this type (frames of other types before it are skipped over, not lost). */
  async next<K extends Frame['type']>(type: K, timeoutMs = 10_000): Promise<FrameOf<K>> {
    const found = await this.waitFor(
      () => {
        for (let i = this.cursor; i < this.frames.length; i += 1) {
          const frame = this.frames[i];
          if (frame?.type === type) {
            this.cursor = i + 1;
            return frame as FrameOf<K>;
          }
        }
        return undefined;
      },
      timeoutMs,
      `a ${type} frame`,
    );
    return found;
  }

  /** All frames of this type so far. */
  all<K extends Frame['type']>(type: K): FrameOf<K>[] {
    return this.frames.filter((frame): frame is FrameOf<K> => frame.type === type);
  }

  /** Waits until `check` returns a value (re-evaluated on every frame and close). */
  async waitFor<T>(check: () => T | undefined, timeoutMs = 10_000, what = 'a condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; last frames: ${JSON.stringify(this.frames.slice(-5))}; closed: ${JSON.stringify(this.closed)}`,
        );
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }

  async waitClosed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    return this.waitFor(() => this.closed, timeoutMs, 'the connection to close');
  }

  /** Sends and resolves with the `accepted` or `error` answering it (matched by cid). */
  async send(to: string, body: string, cid: string): Promise<FrameOf<'accepted'> | FrameOf<'error'>> {
    this.sendJson({ type: 'send', to, body, cid });
    return this.waitFor(
      () =>
        this.frames.find(
          (frame): frame is FrameOf<'accepted'> | FrameOf<'error'> =>
            (frame.type === 'accepted' || frame.type === 'error') && frame.cid === cid,
        ),
      10_000,
      `the answer to ${cid}`,
    );
  }

  messages(): FrameOf<'message'>[] {
    return this.all('message');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.ws.close(1000);
    await this.waitClosed().catch(() => this.ws.terminate());
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
