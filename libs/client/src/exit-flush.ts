/**
 * Acks still queued when the program ends are written on the way out: on Node's `exit` (socket
 * writes there are synchronous enough to reach the kernel) and on a browser's `pagehide`. One
 * listener for every client, so many clients do not trip Node's listener-count warning.
 */
const flushes = new Set<() => void>();
let installed = false;

function flushAll(): void {
  for (const flush of [...flushes]) {
    try {
      flush();
    } catch {
      // exiting anyway: a socket that cannot write keeps its acks (the messages come again)
    }
  }
}

interface ExitEmitter {
  once(event: 'exit', listener: () => void): unknown;
}
interface PageEvents {
  addEventListener(event: 'pagehide', listener: () => void): void;
}

function install(): void {
  if (installed) return;
  installed = true;
  const proc: unknown = Reflect.get(globalThis, 'process');
  if (typeof proc === 'object' && proc !== null && typeof Reflect.get(proc, 'once') === 'function') {
    (proc as ExitEmitter).once('exit', flushAll);
  }
  const page: unknown = Reflect.get(globalThis, 'window');
  if (
    typeof page === 'object' &&
    page !== null &&
    typeof Reflect.get(page, 'addEventListener') === 'function'
  ) {
    (page as PageEvents).addEventListener('pagehide', flushAll);
  }
}

/** Registers `flush` to run when the program exits; returns the function that unregisters it. */
export function flushOnExit(flush: () => void): () => void {
  install();
  flushes.add(flush);
  return () => {
    flushes.delete(flush);
  };
}
