/**
 * A scripted stand-in for the server, for unit tests: every socket the client opens is recorded,
 * the test plays the server's frames, closes and refusals, and reads what the client wrote
 * (parsed with the protocol's own parser, so an invalid client frame fails the test).
 */
import { parseClientFrame, type ClientFrame, type ServerFrame } from '@postbox/protocol';
import type { Socket, SocketClosed, SocketEvents, SocketFactory } from '../socket';

export class FakeSocket implements Socket {
  readonly sent: ClientFrame[] = [];
  closedByClient: { code: number; reason: string } | undefined;
  private ended = false;

  constructor(
    readonly url: string,
    readonly token: string,
    private readonly events: SocketEvents,
  ) {}

  send(text: string): void {
    if (this.ended) throw new Error('the client wrote to a closed socket');
    const parsed = parseClientFrame(text);
    if (!parsed.ok) throw new Error(`the client sent an invalid frame: ${text}`);
    this.sent.push(parsed.frame);
  }

  /** Like a real server, echo the client's close. */
  close(code: number, reason: string): void {
    this.closedByClient = { code, reason };
    queueMicrotask(() => this.end({ code, reason }));
  }

  welcome(user = 'alice', maxBytes = 65_536): void {
    this.events.open();
    this.serve({
      type: 'welcome',
      user,
      session: 's',
      gateway: 'gw-test',
      maxBytes,
      maxFrameBytes: 4 * maxBytes,
    });
  }

  serve(frame: ServerFrame): void {
    this.events.message(JSON.stringify(frame));
  }

  serveRaw(text: string): void {
    this.events.message(text);
  }

  drop(code = 1006, reason = ''): void {
    this.end({ code, reason });
  }

  refuse(httpStatus: number, reason = 'refused'): void {
    this.end({ code: 1006, reason, httpStatus });
  }

  ofType<K extends ClientFrame['type']>(type: K): Extract<ClientFrame, { type: K }>[] {
    return this.sent.filter((frame): frame is Extract<ClientFrame, { type: K }> => frame.type === type);
  }

  private end(info: SocketClosed): void {
    if (this.ended) return;
    this.ended = true;
    this.events.closed(info);
  }
}

export class FakeSockets {
  readonly opened: FakeSocket[] = [];
  readonly factory: SocketFactory = (url, token, events) => {
    const socket = new FakeSocket(url, token, events);
    this.opened.push(socket);
    return socket;
  };

  /** The `n`th socket the client opens (1-based), waiting for it. */
  async nth(n: number): Promise<FakeSocket> {
    return until(() => this.opened[n - 1], `socket #${n}`);
  }
}

/** Polls `check` on each turn of the event loop until it returns a value, or fails after 5 s. */
export async function until<T>(check: () => T | undefined | false, what: string): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
