/**
 * Open-loop load: senders send on a schedule whatever the answers do (a closed loop would hide
 * latency by slowing down), recipients measure send → `message` latency and ack in batches.
 */
import WebSocket from 'ws';
import { parseServerFrame } from '@postbox/protocol';
import { Samples } from './stats';

export interface Peer {
  user: string;
  ws: WebSocket;
}

export interface StepResult {
  offered: number;
  seconds: number;
  accepted: number;
  delivered: number;
  errors: Map<string, number>;
  latencyMs: Samples;
}

export async function openPeer(url: string, user: string, token: string): Promise<Peer> {
  const ws = new WebSocket(`${url}/ws`, {
    headers: { authorization: `Bearer ${token}` },
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
  });
  return { user, ws };
}

/** Runs one step: `rate` sends per second spread over the pairs for `seconds`, then drains. */
export async function runStep(
  senders: readonly Peer[],
  recipients: readonly Peer[],
  rate: number,
  seconds: number,
  bodyBytes: number,
): Promise<StepResult> {
  const result: StepResult = {
    offered: 0,
    seconds,
    accepted: 0,
    delivered: 0,
    errors: new Map(),
    latencyMs: new Samples(),
  };
  const padding = 'x'.repeat(Math.max(0, bodyBytes - 20));
  const detach = listen(senders, recipients, result);
  const started = performance.now();
  let next = 0;
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000;
      const due = Math.floor(Math.min(elapsed, seconds) * rate);
      for (; result.offered < due; result.offered += 1) {
        const index = next++ % senders.length;
        const sender = senders[index];
        const recipient = recipients[index];
        if (sender === undefined || recipient === undefined) continue;
        const body = `${performance.now().toFixed(3)}|${padding}`;
        sender.ws.send(`{"type":"send","to":"${recipient.user}","body":"${body}"}`);
      }
      if (elapsed >= seconds) {
        clearInterval(timer);
        done();
      }
    }, 2);
  });
  // Let in-flight messages land before counting (open loop: nothing waits for them).
  const deadline = performance.now() + 5000;
  while (result.delivered < result.accepted && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  detach();
  return result;
}

function listen(senders: readonly Peer[], recipients: readonly Peer[], result: StepResult): () => void {
  const detachers: (() => void)[] = [];
  for (const sender of senders) {
    const onAnswer = (data: WebSocket.RawData) => {
      const parsed = parseServerFrame(data.toString());
      if (!parsed.ok) return;
      if (parsed.frame.type === 'accepted') result.accepted += 1;
      else if (parsed.frame.type === 'error')
        result.errors.set(parsed.frame.code, (result.errors.get(parsed.frame.code) ?? 0) + 1);
    };
    sender.ws.on('message', onAnswer);
    detachers.push(() => sender.ws.off('message', onAnswer));
  }
  for (const recipient of recipients) {
    let pending: string[] = [];
    const flush = setInterval(() => {
      if (pending.length === 0) return;
      recipient.ws.send(JSON.stringify({ type: 'ack', ids: pending }));
      pending = [];
    }, 50);
    const onMessage = (data: WebSocket.RawData) => {
      const parsed = parseServerFrame(data.toString());
      if (!parsed.ok || parsed.frame.type !== 'message') return;
      result.delivered += 1;
      result.latencyMs.add(performance.now() - Number(parsed.frame.body.split('|', 1)[0]));
      pending.push(parsed.frame.id);
      if (pending.length >= 1000) {
        recipient.ws.send(JSON.stringify({ type: 'ack', ids: pending }));
        pending = [];
      }
    };
    recipient.ws.on('message', onMessage);
    detachers.push(() => {
      clearInterval(flush);
      recipient.ws.off('message', onMessage);
    });
  }
  return () => detachers.forEach((detach) => detach());
}
