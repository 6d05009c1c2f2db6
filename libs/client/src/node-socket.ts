/**
 * The `ws` transport (Node): the token goes in the `Authorization` header, and a refused upgrade
 * reports its HTTP status, so a 401 can stop reconnecting at once.
 */
import WebSocket from 'ws';
import type { SocketFactory } from './socket';

/** ws reports a refused upgrade as 1006 like browsers do; the status rides along. */
const ABNORMAL = 1006;

export const nodeSocket: SocketFactory = (url, token, events) => {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  let done = false;
  const finish = (code: number, reason: string, httpStatus?: number): void => {
    if (done) return;
    done = true;
    events.closed(httpStatus === undefined ? { code, reason } : { code, reason, httpStatus });
  };
  ws.on('open', () => events.open());
  ws.on('message', (data, isBinary) => events.message(isBinary ? '' : data.toString()));
  ws.on('close', (code, reason) => finish(code, reason.toString()));
  // Without this listener ws would throw; the close (or the refusal below) carries what matters.
  ws.on('error', (error) => finish(ABNORMAL, error.message));
  ws.on('unexpected-response', (request, response) => {
    let body = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (body += chunk));
    response.on('end', () => {
      finish(ABNORMAL, refusalReason(body, response.statusCode ?? 0), response.statusCode ?? 0);
      request.destroy();
    });
  });
  return {
    send: (text) => ws.send(text),
    close: (code, reason) => {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(code, reason);
    },
  };
};

/** The refusal's JSON `message` (docs/protocol.md: `{"error":…,"message":…}`), else the status. */
function refusalReason(body: string, status: number): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && 'message' in parsed) {
      const message: unknown = parsed.message;
      if (typeof message === 'string') return message;
    }
  } catch {
    // not JSON: fall through to the bare status
  }
  return `HTTP ${status}`;
}
