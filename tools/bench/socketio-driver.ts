/**
 * The Socket.IO reference's protocol for the load generator (reference/socketio.ts): websocket
 * transport only, the JWT in the handshake's `auth`, `send` {to, body, cid} answered through the
 * ack callback, `message` events at the recipient (no acks: the reference keeps no mailbox).
 */
import { io, type Socket } from 'socket.io-client';
import { tokenFor } from '../../tests/support/tokens';
import { connectPairs, type LoadDriver, type StepSink } from './load';

/** The path nginx proxies for postbox (`location = /ws`); the reference listens on it too. */
export const SOCKET_IO_PATH = '/ws';

interface Answer {
  type?: string;
  cid?: string;
  code?: string;
}

export async function openSocketIo(url: string, user: string): Promise<Socket> {
  const socket = io(url.replace(/^ws/, 'http'), {
    path: SOCKET_IO_PATH,
    addTrailingSlash: false,
    transports: ['websocket'],
    auth: { token: await tokenFor(user) },
    // One connection per user, as the postbox driver has (io() would multiplex them on one).
    forceNew: true,
    reconnection: false,
    timeout: 10_000,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => reject(new Error(`Socket.IO connect failed: ${error.message}`)));
  });
  return socket;
}

export async function connectSocketIo(url: string, pairs: number): Promise<LoadDriver> {
  const { senders, recipients, users } = await connectPairs(pairs, (user) => openSocketIo(url, user));
  let sink: StepSink | undefined;
  return {
    pairs,
    send(index, body, cid) {
      const sender = senders[index];
      const to = users[index]?.recipient;
      if (sender === undefined || to === undefined) return;
      sender.emit('send', { to, body, cid }, (answer: Answer) => {
        sink?.answered(answer.cid ?? cid, answer.type === 'accepted' ? 'accepted' : (answer.code ?? 'error'));
      });
    },
    attach(next: StepSink) {
      sink = next;
      const detachers: (() => void)[] = [];
      const onDisconnect = (reason: string) => next.error(`disconnect:${reason.replace(/ /g, '_')}`);
      for (const sender of senders) {
        sender.on('disconnect', onDisconnect);
        detachers.push(() => sender.off('disconnect', onDisconnect));
      }
      for (const recipient of recipients) {
        const onMessage = (message: { body?: string }) => {
          if (typeof message.body === 'string') next.arrived(message.body);
        };
        recipient.on('message', onMessage);
        recipient.on('disconnect', onDisconnect);
        detachers.push(() => {
          recipient.off('message', onMessage);
          recipient.off('disconnect', onDisconnect);
        });
      }
      return () => {
        sink = undefined;
        detachers.forEach((detach) => detach());
      };
    },
    async close() {
      for (const socket of [...senders, ...recipients]) socket.disconnect();
    },
  };
}
