/**
 * The SDK's port to a WebSocket: open with a token, send text, hear text and one close.
 * Two implementations: the platform's `WebSocket` (browsers, Node ≥ 22) and `ws` (Node 20),
 * which is loaded lazily so a browser bundle never pulls it in.
 */
export interface SocketClosed {
  code: number;
  reason: string;
  /** HTTP status of a refused upgrade; only `ws` can see it (browsers report a bare 1006). */
  httpStatus?: number;
}

export interface SocketEvents {
  /** The upgrade succeeded (frames may follow). */
  open(): void;
  message(text: string): void;
  /** Called exactly once per socket, whether the upgrade failed or an open connection ended. */
  closed(info: SocketClosed): void;
}

export interface Socket {
  send(text: string): void;
  close(code: number, reason: string): void;
}

export type SocketFactory = (url: string, token: string, events: SocketEvents) => Socket;

/** The parts of the WHATWG WebSocket this file uses. */
interface PlatformWebSocket {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
type PlatformWebSocketClass = new (url: string) => PlatformWebSocket;

function platformWebSocket(): PlatformWebSocketClass | undefined {
  const candidate: unknown = Reflect.get(globalThis, 'WebSocket');
  return typeof candidate === 'function' ? (candidate as PlatformWebSocketClass) : undefined;
}

/** Browsers cannot set headers on an upgrade, so the token goes in the query (docs/protocol.md). */
export function withQueryToken(url: string, token: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('token', token);
  return parsed.toString();
}

export function platformSocket(Ctor: PlatformWebSocketClass): SocketFactory {
  return (url, token, events) => {
    const ws = new Ctor(withQueryToken(url, token));
    let done = false;
    ws.onopen = () => events.open();
    ws.onmessage = (event) => {
      // The server only sends text frames; anything else is surfaced as an invalid frame.
      events.message(typeof event.data === 'string' ? event.data : '');
    };
    ws.onclose = (event) => {
      if (done) return;
      done = true;
      events.closed({ code: event.code, reason: event.reason });
    };
    return { send: (text) => ws.send(text), close: (code, reason) => ws.close(code, reason) };
  };
}

/**
 * The default transport. `ws` sits behind a dynamic import: bundlers honour the package's
 * `browser` field (which maps it to nothing) and Node loads it only when no global WebSocket exists.
 */
export async function defaultSocketFactory(): Promise<SocketFactory> {
  const Ctor = platformWebSocket();
  if (Ctor !== undefined) return platformSocket(Ctor);
  const { nodeSocket } = await import('./node-socket');
  return nodeSocket;
}
