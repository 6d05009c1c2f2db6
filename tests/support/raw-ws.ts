/**
 * A WebSocket client made by hand on a plain TCP socket, for the slow-consumer test: it can stop
 * reading for real (socket.pause() stops reads from the kernel, so the server's writes back up)
 * without reaching into a library's private fields, and later read what the server still sent,
 * close frame included.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface RawFrame {
  opcode: number;
  payload: Buffer;
}

export interface RawWebSocket {
  socket: Socket;
  /** Resumes reading and resolves with the close frame's code, or undefined if the TCP stream ended without one. */
  readUntilClose(timeoutMs: number): Promise<number | undefined>;
}

/**
 * Upgrades on `host:port`, reads until `untilText` has arrived in a text frame (e.g. `synced`),
 * then pauses the socket: from then on nothing more is read until `readUntilClose`.
 */
export function openPausedWebSocket(
  port: number,
  token: string,
  untilText: string,
  timeoutMs = 15_000,
): Promise<RawWebSocket> {
  const socket = connect(port, '127.0.0.1');
  const key = randomBytes(16).toString('base64');
  let buffered = Buffer.alloc(0);
  let upgraded = false;
  const frames: RawFrame[] = [];
  return new Promise((done, reject) => {
    const timer = setTimeout(() => fail(new Error(`no "${untilText}" within ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.write(
        `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`,
      );
    });
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!upgraded) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffered.subarray(0, end).toString();
        if (!head.startsWith('HTTP/1.1 101'))
          return fail(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        upgraded = true;
        buffered = buffered.subarray(end + 4);
      }
      buffered = parseFrames(buffered, frames);
      if (frames.some((frame) => frame.opcode === 1 && frame.payload.toString().includes(untilText))) {
        socket.off('data', onData);
        socket.pause();
        clearTimeout(timer);
        done({ socket, readUntilClose: (ms) => readUntilClose(socket, buffered, ms) });
      }
    };
    socket.on('data', onData);
  });
}

function readUntilClose(socket: Socket, pending: Buffer, timeoutMs: number): Promise<number | undefined> {
  let buffered = pending;
  const frames: RawFrame[] = [];
  return new Promise((done) => {
    const finish = (code: number | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      done(code);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    const closeCode = (): number | undefined => {
      const close = frames.find((frame) => frame.opcode === 8);
      return close === undefined || close.payload.length < 2 ? undefined : close.payload.readUInt16BE(0);
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = parseFrames(Buffer.concat([buffered, chunk]), frames);
      // Only the tail matters: keep the frame list short while megabytes go by.
      const code = closeCode();
      if (code !== undefined) finish(code);
      frames.length = 0;
    });
    socket.once('end', () => finish(closeCode()));
    socket.once('error', () => finish(closeCode()));
    socket.resume();
  });
}

/** Parses complete unmasked server frames off the front of `data`; returns the incomplete rest. */
function parseFrames(data: Buffer, out: RawFrame[]): Buffer {
  let offset = 0;
  for (;;) {
    if (data.length - offset < 2) break;
    const opcode = (data[offset] ?? 0) & 0x0f;
    let length = (data[offset + 1] ?? 0) & 0x7f;
    let header = 2;
    if (length === 126) {
      if (data.length - offset < 4) break;
      length = data.readUInt16BE(offset + 2);
      header = 4;
    } else if (length === 127) {
      if (data.length - offset < 10) break;
      length = Number(data.readBigUInt64BE(offset + 2));
      header = 10;
    }
    if (data.length - offset < header + length) break;
    out.push({ opcode, payload: data.subarray(offset + header, offset + header + length) });
    offset += header + length;
  }
  return data.subarray(offset);
}
