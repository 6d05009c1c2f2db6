/**
 * The one file that imports uWebSockets.js. It loads the native binary itself and refuses to run
 * without it: the package's loader would otherwise fall back silently to a slow JS shim.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Uws from 'uWebSockets.js';
import { CloseCode, CloseReason } from '@postbox/protocol';
import type { Connection } from '../connection';

export interface UpgradeRequest {
  url: string;
  authorization: string;
  origin: string | undefined;
  queryToken: string;
  remoteAddress: string;
}

export type UpgradeDecision<T> =
  | { accept: true; context: T }
  | { accept: false; status: number; body: Record<string, string> };

export interface HttpReply {
  status: number;
  contentType: string;
  body: string;
}

export interface TransportHandlers<T> {
  /** Decides the upgrade before any WebSocket exists. */
  authorize(request: UpgradeRequest): Promise<UpgradeDecision<T>>;
  /**
   * `authorize` accepted, but the connection ended before `open`: the client went away while the
   * upgrade was decided (`upgrade`), or the socket closed between the upgrade and the deferred
   * open (`open`; `code` is its close code).
   */
  abandoned(context: T, when: 'upgrade' | 'open', code?: number): void;
  open(context: T, conn: Connection): void;
  /** `text` is undefined for a binary frame. */
  message(context: T, text: string | undefined): void;
  drain(context: T): void;
  close(context: T, code: number): void;
  http: Record<string, () => Promise<HttpReply> | HttpReply>;
  /** POST routes; the handler gets the body as UTF-8 text (at most MAX_POST_BODY_BYTES). */
  httpPost?: Record<string, (body: string) => Promise<HttpReply> | HttpReply>;
}

export interface TransportSettings {
  host: string;
  port: number;
  maxFrameBytes: number;
  maxBufferedBytes: number;
  idleTimeoutSeconds: number;
}

export interface Transport {
  port: number;
  /** Stops accepting connections; open ones stay until closed. */
  stopListening(): void;
}

/** uWS.js accepts (host, port, options, cb); its type declarations only list (port, options, cb). */
type ListenWithOptions = (
  host: string,
  port: number,
  options: number,
  callback: (listenSocket: Uws.us_listen_socket | false) => void,
) => Uws.TemplatedApp;
const EXCLUSIVE_PORT = 1; // LIBUS_LISTEN_EXCLUSIVE_PORT
/** POST bodies are small JSON requests; anything larger is answered 413 without being kept. */
export const MAX_POST_BODY_BYTES = 4096;

interface UserData<T> {
  context: T;
  /** 0 upgraded, 1 opened (handlers.open ran), 2 closed before it could open. */
  phase: 0 | 1 | 2;
}

export function loadNativeUws(): typeof Uws {
  const packageDir = path.dirname(require.resolve('uWebSockets.js/package.json'));
  const binary = path.join(
    packageDir,
    'binaries',
    `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`,
  );
  try {
    return createRequire(__filename)(binary) as typeof Uws;
  } catch (error) {
    throw new Error(
      `the native uWebSockets.js binary did not load (${binary}): ${String(error)}. ` +
        'postbox will not run on the slow JS fallback; use Node 20 on linux-x64/arm64 and reinstall with npm ci.',
    );
  }
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  413: '413 Payload Too Large',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export function startTransport<T>(
  settings: TransportSettings,
  handlers: TransportHandlers<T>,
): Promise<Transport> {
  const uws = loadNativeUws();
  const app = uws.App();
  app.ws<UserData<T>>('/ws', {
    // uWS drops a connection without a close frame past maxPayloadLength, so it gets a hard cap
    // above ours, and frames between the two get the documented 1009.
    maxPayloadLength: settings.maxFrameBytes * 4,
    // uWS would drop frames silently past this; the session closes with 1013 well before.
    maxBackpressure: settings.maxBufferedBytes * 2 + settings.maxFrameBytes,
    closeOnBackpressureLimit: 0,
    idleTimeout: settings.idleTimeoutSeconds,
    sendPingsAutomatically: true,
    upgrade: (res, req, socketContext) => upgrade(res, req, socketContext, handlers),
    // uWS closes a socket upgraded inside res.cork() from an async callback when the open handler
    // writes to it (uWebSockets.js issue 1108: cork misreads the upgraded socket's state). So the
    // open runs on the next turn, in a cork of its own; a frame arriving first opens it at once.
    // Its frames (welcome, first page) are queued and written by the outbox a turn later still.
    open: (ws) => {
      setImmediate(() => {
        if (ws.getUserData().phase === 0) ws.cork(() => openNow(ws, handlers));
      });
    },
    message: (ws, data, isBinary) => {
      if (ws.getUserData().phase === 0) openNow(ws, handlers);
      if (data.byteLength > settings.maxFrameBytes) {
        ws.end(CloseCode.MessageTooBig, CloseReason.FrameTooLarge);
        return;
      }
      handlers.message(ws.getUserData().context, isBinary ? undefined : Buffer.from(data).toString('utf8'));
    },
    drain: (ws) => handlers.drain(ws.getUserData().context),
    close: (ws, code) => {
      const userData = ws.getUserData();
      if (userData.phase === 1) handlers.close(userData.context, code);
      else handlers.abandoned(userData.context, 'open', code);
      userData.phase = 2;
    },
  });
  for (const [route, reply] of Object.entries(handlers.http)) {
    app.get(route, (res) => respond(res, watchAborted(res), reply));
  }
  for (const [route, handle] of Object.entries(handlers.httpPost ?? {})) {
    app.post(route, (res) => postRoute(res, handle));
  }
  app.any('/*', (res) =>
    writeReply(res, { status: 404, contentType: 'application/json', body: '{"error":"not_found"}' }),
  );

  // Exclusive: uWS otherwise listens with SO_REUSEPORT, and a second process on the same port
  // would silently take half of the connections instead of failing to start.
  const listen = app.listen as unknown as ListenWithOptions;
  return new Promise((resolve, reject) => {
    listen.call(app, settings.host, settings.port, EXCLUSIVE_PORT, (listenSocket) => {
      if (listenSocket === false) {
        reject(
          new Error(`cannot listen on ${settings.host}:${settings.port}: is the port in use? Set PORT.`),
        );
        return;
      }
      resolve({
        port: uws.us_socket_local_port(listenSocket),
        stopListening: () => uws.us_listen_socket_close(listenSocket),
      });
    });
  });
}

function upgrade<T>(
  res: Uws.HttpResponse,
  req: Uws.HttpRequest,
  socketContext: Uws.us_socket_context_t,
  handlers: TransportHandlers<T>,
): void {
  // The request object is only valid until the first await: copy what is needed now.
  const request: UpgradeRequest = {
    url: req.getUrl(),
    authorization: req.getHeader('authorization'),
    origin: req.getHeader('origin') || undefined,
    queryToken: req.getQuery('token') ?? '',
    remoteAddress: Buffer.from(res.getRemoteAddressAsText()).toString(),
  };
  const key = req.getHeader('sec-websocket-key');
  const protocol = req.getHeader('sec-websocket-protocol');
  const extensions = req.getHeader('sec-websocket-extensions');
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  handlers
    .authorize(request)
    .catch(
      (): UpgradeDecision<T> => ({
        accept: false,
        status: 500,
        body: { error: 'internal', message: 'the upgrade could not be decided' },
      }),
    )
    .then((decision) => {
      if (aborted) {
        if (decision.accept) handlers.abandoned(decision.context, 'upgrade');
        return;
      }
      res.cork(() => {
        if (decision.accept) {
          res.upgrade<UserData<T>>(
            { context: decision.context, phase: 0 },
            key,
            protocol,
            extensions,
            socketContext,
          );
        } else {
          writeReply(res, {
            status: decision.status,
            contentType: 'application/json',
            body: JSON.stringify(decision.body),
          });
        }
      });
    });
}

function openNow<T>(ws: Uws.WebSocket<UserData<T>>, handlers: TransportHandlers<T>): void {
  const userData = ws.getUserData();
  userData.phase = 1;
  handlers.open(userData.context, ws);
}

/** uWS requires onAborted before any async answer; returns whether the client went away. */
function watchAborted(res: Uws.HttpResponse): () => boolean {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  return () => aborted;
}

function respond(
  res: Uws.HttpResponse,
  aborted: () => boolean,
  reply: () => Promise<HttpReply> | HttpReply,
): void {
  Promise.resolve()
    .then(reply)
    .catch((): HttpReply => ({ status: 500, contentType: 'application/json', body: '{"error":"internal"}' }))
    .then((out) => {
      if (!aborted()) res.cork(() => writeReply(res, out));
    });
}

function postRoute(res: Uws.HttpResponse, handle: (body: string) => Promise<HttpReply> | HttpReply): void {
  const aborted = watchAborted(res);
  const chunks: Buffer[] = [];
  let size = 0;
  res.onData((chunk, isLast) => {
    size += chunk.byteLength;
    // uWS reuses the chunk's memory after this callback returns: keep a copy.
    if (size <= MAX_POST_BODY_BYTES) chunks.push(Buffer.from(chunk.slice(0)));
    if (!isLast) return;
    if (size > MAX_POST_BODY_BYTES) {
      const body = JSON.stringify({ error: 'too_large', message: `at most ${MAX_POST_BODY_BYTES} bytes` });
      return respond(res, aborted, () => ({ status: 413, contentType: 'application/json', body }));
    }
    respond(res, aborted, () => handle(Buffer.concat(chunks).toString('utf8')));
  });
}

function writeReply(res: Uws.HttpResponse, reply: HttpReply): void {
  res
    .writeStatus(STATUS_TEXT[reply.status] ?? `${reply.status} Status`)
    .writeHeader('Content-Type', reply.contentType)
    .writeHeader('Cache-Control', 'no-store')
    .end(reply.body);
}
