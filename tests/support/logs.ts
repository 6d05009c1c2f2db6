/** A JSON-lines logger whose output a test can read. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@postbox/logger';

export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { logger: createLogger({ name: 'bus-test', level: 'warn', pretty: false }, sink), lines };
}
