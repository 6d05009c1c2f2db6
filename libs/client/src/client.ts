/**
 * PostboxClient: one logical connection to postbox that survives gateway restarts. It owns the
 * socket's life cycle (connect, welcome, close, reconnect with backoff) and wires frames to the
 * outbox (sends), the inbox (messages and acks) and the presence queries.
 */
import {
  CloseCode,
  CloseReason,
  parseServerFrame,
  type ClientFrame,
  type ServerFrame,
  type WelcomeFrame,
} from '@postbox/protocol';
import { reconnectDelay } from './backoff';
import { randomCid } from './cid';
import { PostboxError } from './errors';
import { Emitter } from './events';
import { flushOnExit } from './exit-flush';
import { Inbox, type MessageHandler } from './inbox';
import { Outbox, type Accepted } from './outbox';
import {
  DEFAULT_MAX_BYTES,
  resolveOptions,
  type ConnectOptions,
  type ResolvedOptions,
  type TokenSource,
} from './options';
import { PresenceQueries } from './presence';
import { defaultSocketFactory, type Socket, type SocketClosed } from './socket';

export interface CloseEvent {
  code: number;
  reason: string;
  /** True when the client will reconnect; false after `close()` or a fatal refusal. */
  reconnect: boolean;
  /** HTTP status of a refused upgrade, when the transport can see it. */
  httpStatus?: number;
}

export interface ClientEvents {
  /** A session is open: the server's `welcome`. */
  open: WelcomeFrame;
  /** The mailbox has been fully delivered on this connection; what follows is live. */
  synced: WelcomeFrame;
  close: CloseEvent;
  reconnecting: { attempt: number; delayMs: number };
  error: PostboxError;
}

type State = 'connecting' | 'open' | 'waiting' | 'closed';

const FATAL_STATUS: Record<number, 'unauthorized' | 'forbidden'> = { 401: 'unauthorized', 403: 'forbidden' };

export class PostboxClient extends Emitter<ClientEvents> {
  private readonly options: ResolvedOptions;
  private readonly outbox: Outbox;
  private readonly inbox: Inbox;
  private readonly presenceQueries: PresenceQueries;
  private state: State = 'connecting';
  private socket: Socket | undefined;
  /** Identifies the current socket, so events of an abandoned one are ignored. */
  private epoch = 0;
  private attempt = 0;
  private everWelcomed = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private session: WelcomeFrame | undefined;
  private closing: Promise<void> | undefined;
  /** Removes this client from the exit-time ack flush (set when the SDK owns the socket). */
  private readonly forgetOnExit: () => void;

  constructor(
    private readonly url: string,
    private readonly token: TokenSource,
    options: ConnectOptions = {},
  ) {
    super();
    this.options = resolveOptions(options);
    this.outbox = new Outbox({
      timeoutMs: this.options.sendTimeoutMs,
      maxRetries: this.options.maxSendRetries,
      backoff: this.options.backoff,
      random: this.options.random,
      write: (frame) => this.write(frame),
    });
    this.inbox = new Inbox({
      manualAck: this.options.manualAck,
      ackDelayMs: this.options.ackDelayMs,
      dedupeCapacity: this.options.dedupeCapacity,
      write: (ids) => this.write({ type: 'ack', ids }),
      onError: (error) => this.emit('error', error),
    });
    this.presenceQueries = new PresenceQueries(this.options.presenceTimeoutMs, (frame) => this.write(frame));
    // The SDK's own socket: acks still queued when the process exits (or the page is left) are
    // written on the way out. A custom socket's owner decides what happens to it then.
    this.forgetOnExit =
      this.options.socket === undefined ? flushOnExit(() => this.flushAcksIfOpen()) : () => undefined;
    void this.openSocket();
  }

  /** The current session's `welcome`, while one is open. */
  get welcome(): WelcomeFrame | undefined {
    return this.state === 'open' ? this.session : undefined;
  }

  /** Resolves on the next `welcome` (at once if a session is open); rejects if the client closes first. */
  opened(): Promise<WelcomeFrame> {
    const current = this.welcome;
    if (current !== undefined) return Promise.resolve(current);
    if (this.state === 'closed') return Promise.reject(new PostboxError('closed', 'the client is closed'));
    return new Promise((resolve, reject) => {
      const offOpen = this.once('open', (welcome) => {
        offClose();
        resolve(welcome);
      });
      const offClose = this.on('close', (event) => {
        if (event.reconnect) return;
        offOpen();
        offClose();
        reject(
          new PostboxError('closed', `closed before a session opened: ${event.reason}`, event.httpStatus),
        );
      });
    });
  }

  /**
   * Sends a message; resolves on `accepted`. Survives reconnects: the send is re-sent with the
   * same cid, so it is stored and delivered once. Pass your own `cid` to retry across restarts.
   */
  send(to: string, body: string, options: { cid?: string } = {}): Promise<Accepted> {
    if (this.state === 'closed') return Promise.reject(new PostboxError('closed', 'the client is closed'));
    const maxBytes = this.session?.maxBytes ?? DEFAULT_MAX_BYTES;
    return this.outbox.add({ type: 'send', to, body, cid: options.cid ?? randomCid() }, maxBytes);
  }

  /** Who of `users` (1 to 100 ids) is online. */
  presence(users: string[]): Promise<Record<string, boolean>> {
    if (this.state === 'closed') return Promise.reject(new PostboxError('closed', 'the client is closed'));
    return this.presenceQueries.ask(users);
  }

  /** Registers a message handler; returns the function that removes it. */
  onMessage(handler: MessageHandler): () => void {
    return this.inbox.onMessage(handler);
  }

  /** Acknowledges messages (with `manualAck`; in automatic mode the SDK does it). */
  ack(ids: readonly string[]): void {
    this.inbox.ack(ids);
  }

  /** Drops the current connection and opens a new one (e.g. after a network change). */
  reconnect(): void {
    if (this.state !== 'open' || this.socket === undefined) return;
    this.inbox.flushAcks();
    this.socket.close(1000, 'reconnect');
  }

  /**
   * Lets the message handlers finish (what was received so far, up to `closeTimeoutMs`), writes
   * their acks, closes the connection and rejects pending requests with `closed`. Called from
   * inside a handler, it does not wait for that handler: that message stays unacknowledged.
   */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    if (this.state === 'closed') return Promise.resolve();
    this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (!this.inbox.insideHandler) await settled(this.inbox.idle(), this.options.closeTimeoutMs);
    if (this.state === 'closed') return;
    const socket = this.socket;
    this.flushAcksIfOpen();
    this.stop(new PostboxError('closed', 'the client was closed'));
    if (socket === undefined) {
      this.emit('close', { code: 1000, reason: 'closed', reconnect: false });
      return;
    }
    const closed = new Promise<void>((resolve) => this.once('close', () => resolve()));
    socket.close(1000, 'bye');
    await closed;
  }

  private async openSocket(): Promise<void> {
    const epoch = ++this.epoch;
    this.state = 'connecting';
    let token: string;
    try {
      token = typeof this.token === 'string' ? this.token : await this.token();
    } catch (cause) {
      if (this.isClosed()) return;
      const message = cause instanceof Error ? cause.message : String(cause);
      return this.onClosed(epoch, { code: 1006, reason: `could not get a token: ${message}` });
    }
    if (epoch !== this.epoch || this.isClosed()) return;
    const factory = this.options.socket ?? (await defaultSocketFactory());
    if (epoch !== this.epoch || this.isClosed()) return;
    this.socket = factory(this.url, token, {
      open: () => undefined,
      message: (text) => {
        if (epoch === this.epoch) this.onFrame(text);
      },
      closed: (info) => this.onClosed(epoch, info),
    });
  }

  private onFrame(text: string): void {
    const parsed = parseServerFrame(text);
    if (!parsed.ok) {
      this.emit('error', new PostboxError('protocol', `unexpected frame: ${parsed.error.message}`));
      return;
    }
    this.handle(parsed.frame);
  }

  private handle(frame: ServerFrame): void {
    switch (frame.type) {
      case 'welcome':
        return this.onWelcome(frame);
      case 'synced':
        if (this.session !== undefined) this.emit('synced', this.session);
        return;
      case 'message':
        return this.inbox.receive(frame);
      case 'accepted':
        return this.outbox.accepted(frame);
      case 'presence':
        return this.presenceQueries.answered(frame);
      case 'error':
        if (!this.outbox.refused(frame)) this.emit('error', new PostboxError(frame.code, frame.message));
        return;
      case 'pong':
        return;
    }
  }

  private onWelcome(frame: WelcomeFrame): void {
    this.state = 'open';
    this.session = frame;
    this.attempt = 0;
    this.everWelcomed = true;
    // Re-send what the last connection left unanswered before anything new: same cids, same order.
    this.outbox.resendAll();
    this.presenceQueries.resendAll();
    this.inbox.flushAcks();
    this.emit('open', frame);
  }

  private onClosed(epoch: number, info: SocketClosed): void {
    if (epoch !== this.epoch) return;
    this.socket = undefined;
    const base = { code: info.code, reason: info.reason, ...this.statusOf(info) };
    if (this.state === 'closed') return this.emit('close', { ...base, reconnect: false });
    const fatal = this.fatalError(info);
    if (fatal !== undefined) {
      this.stop(fatal);
      this.emit('error', fatal);
      return this.emit('close', { ...base, reconnect: false });
    }
    const delayMs = reconnectDelay(info.code, this.attempt, this.options.backoff, this.options.random);
    this.attempt += 1;
    this.state = 'waiting';
    this.emit('close', { ...base, reconnect: true });
    this.emit('reconnecting', { attempt: this.attempt, delayMs });
    this.reconnectTimer = setTimeout(() => void this.openSocket(), delayMs);
  }

  /** 401/403 stop at once; without a visible status, many failures before any welcome do. */
  private fatalError(info: SocketClosed): PostboxError | undefined {
    const byStatus = info.httpStatus === undefined ? undefined : FATAL_STATUS[info.httpStatus];
    if (byStatus !== undefined) return new PostboxError(byStatus, info.reason, info.httpStatus);
    // A fixed token that expired stays expired: reconnecting would loop until the clock leeway ends.
    if (
      info.code === CloseCode.PolicyViolation &&
      info.reason === CloseReason.TokenExpired &&
      typeof this.token === 'string'
    ) {
      return new PostboxError(
        'unauthorized',
        'the token expired; pass a function that returns a fresh token to stay connected',
      );
    }
    if (!this.everWelcomed && this.attempt + 1 >= this.options.maxAttemptsBeforeWelcome) {
      return new PostboxError(
        'unreachable',
        `no session after ${this.attempt + 1} attempts (last: ${info.reason || `close ${info.code}`})`,
        info.httpStatus,
      );
    }
    return undefined;
  }

  /** A method, not a field check, because awaits inside openSocket() can change the state. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private statusOf(info: SocketClosed): { httpStatus?: number } {
    return info.httpStatus === undefined ? {} : { httpStatus: info.httpStatus };
  }

  private flushAcksIfOpen(): void {
    if (this.state === 'open') this.inbox.flushAcks();
  }

  private stop(error: PostboxError): void {
    this.state = 'closed';
    this.forgetOnExit();
    clearTimeout(this.reconnectTimer);
    this.inbox.stop();
    this.outbox.failAll(error);
    this.presenceQueries.failAll(error);
  }

  private write(frame: ClientFrame): boolean {
    if (this.state !== 'open' || this.socket === undefined) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }
}

/** Resolves when `promise` settles or after `ms`, whichever comes first; never rejects. */
async function settled(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    await Promise.race([promise.then(noop, noop), elapsed]);
  } finally {
    clearTimeout(timer);
  }
}

function noop(): void {}

export function connect(url: string, token: TokenSource, options: ConnectOptions = {}): PostboxClient {
  return new PostboxClient(url, token, options);
}
