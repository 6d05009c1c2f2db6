/** A TCP port free on 127.0.0.1 right now (another process may still take it before you bind). */
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') return reject(new Error('no port assigned'));
      server.close(() => done(address.port));
    });
  });
}
