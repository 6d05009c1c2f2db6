/**
 * The postbox protocol for the load generator (docs/protocol.md over `ws`): the JWT in the upgrade's
 * Authorization header, `send` frames with a cid, `accepted`/`error` answers, `message` frames
 * acked in batches (every 50 ms or 1000 ids) as a real client does.
 */
import WebSocket from 'ws';
import { tokenFor } from '../../tests/support/tokens';
import { connectPairs, type LoadDriver, type StepSink } from './load';

interface Frame {
  type?: string;
  cid?: string;
  code?: string;
  id?: string;
  body?: string;
}

export async function openPostboxSocket(url: string, user: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url}/ws`, {
    headers: { authorization: `Bearer ${await tokenFor(user)}` },
    perMessageDeflate: false,
  });
  await new Promise<void>((resolve, reject) => {
    const onFrame = (data: WebSocket.RawData) => {
      if (data.toString().includes('"synced"')) {
        ws.off('message', onFrame);
        resolve();
      }
    };
    ws.on('message', onFrame);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    // A connection closed before `synced` must fail the bench (or be retried), not hang it.
    ws.once('close', (code) => reject(new Error(`closed with ${code} before synced`)));
  });
  return ws;
}

/** openPostboxSocket, retried a few times: a gateway that just turned ready may still drop one. */
export async function openPostboxSocketRetrying(url: string, user: string): Promise<WebSocket> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await openPostboxSocket(url, user);
    } catch (error) {
      if (attempt >= 3) throw error;
      console.warn(`bench: ${user}: ${String(error)}; retrying`);
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

/** Plain JSON.parse (no schema check): the generator's CPU is measured, the same for every target. */
function parse(data: WebSocket.RawData): Frame | undefined {
  try {
    const frame: unknown = JSON.parse(data.toString());
    return typeof frame === 'object' && frame !== null ? (frame as Frame) : undefined;
  } catch {
    return undefined;
  }
}

export async function connectPostbox(url: string, pairs: number): Promise<LoadDriver> {
  const { senders, recipients, users } = await connectPairs(pairs, (user) =>
    openPostboxSocketRetrying(url, user),
  );
  return {
    pairs,
    send(index, body, cid) {
      const sender = senders[index];
      const to = users[index]?.recipient;
      if (sender === undefined || to === undefined) return;
      // The body and cid are plain ASCII without quotes (load.ts makes them): no JSON.stringify needed.
      sender.send(`{"type":"send","to":"${to}","body":"${body}","cid":"${cid}"}`);
    },
    attach(sink: StepSink) {
      const detachers: (() => void)[] = [];
      const onClose = (code: number) => sink.error(`close:${code}`);
      const on = (ws: WebSocket, onMessage: (data: WebSocket.RawData) => void) => {
        ws.on('message', onMessage);
        ws.on('close', onClose);
        detachers.push(() => {
          ws.off('message', onMessage);
          ws.off('close', onClose);
        });
      };
      for (const sender of senders) {
        on(sender, (data) => {
          const frame = parse(data);
          if (frame?.type === 'accepted') sink.answered(frame.cid, 'accepted');
          else if (frame?.type === 'error') sink.answered(frame.cid, frame.code ?? 'error');
        });
      }
      for (const recipient of recipients) {
        let pending: string[] = [];
        const flushAcks = () => {
          if (pending.length === 0 || recipient.readyState !== WebSocket.OPEN) return;
          recipient.send(JSON.stringify({ type: 'ack', ids: pending }));
          pending = [];
        };
        const timer = setInterval(flushAcks, 50);
        detachers.push(() => {
          clearInterval(timer);
          flushAcks();
        });
        on(recipient, (data) => {
          const frame = parse(data);
          if (frame?.type !== 'message' || frame.body === undefined || frame.id === undefined) return;
          sink.arrived(frame.body);
          pending.push(frame.id);
          if (pending.length >= 1000) flushAcks();
        });
      }
      return () => detachers.forEach((detach) => detach());
    },
    async close() {
      const all = [...senders, ...recipients];
      await Promise.all(
        all.map(
          (ws) =>
            new Promise<void>((resolve) => {
              if (ws.readyState === WebSocket.CLOSED) return resolve();
              ws.once('close', () => resolve());
              ws.close();
              setTimeout(() => {
                ws.terminate();
                resolve();
              }, 2000).unref();
            }),
        ),
      );
    },
  };
}
