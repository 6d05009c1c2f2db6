/**
 * The browser path: no Node module is imported (statically) by anything index.ts reaches, the
 * platform WebSocket is used with the token in the query, and `ws` is never loaded.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const NODE_ONLY_FILES = new Set(['node-socket.ts']);

/** Files reachable from index.ts through static relative imports. */
function reachable(entry: string): Map<string, string> {
  const files = new Map<string, string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    const text = readFileSync(file, 'utf8');
    files.set(file, text);
    for (const match of text.matchAll(/^(?:import|export)[^;]*?from '(\.[^']+)';/gms)) {
      const target = match[1];
      if (target !== undefined) visit(resolve(dirname(file), `${target}.ts`));
    }
  };
  visit(entry);
  return files;
}

test('nothing index.ts reaches imports a Node module or ws', () => {
  const files = reachable(resolve(__dirname, 'index.ts'));
  expect(files.size).toBeGreaterThan(8);
  const offenders: string[] = [];
  for (const [file, text] of files) {
    for (const match of text.matchAll(/^(?:import|export)[^;]*?from '([^']+)';/gms)) {
      const source = match[1] ?? '';
      if (source.startsWith('node:') || source === 'ws') offenders.push(`${file}: ${source}`);
    }
    if (/\bBuffer\b|\bprocess\./.test(text.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '')))
      offenders.push(`${file}: Buffer or process`);
  }
  expect(offenders).toEqual([]);
  expect([...files.keys()].filter((file) => NODE_ONLY_FILES.has(file.split('/').at(-1) ?? ''))).toEqual([]);
});

class FakeBrowserSocket {
  static opened: FakeBrowserSocket[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  readonly sent: string[] = [];

  constructor(readonly url: string) {
    FakeBrowserSocket.opened.push(this);
  }

  send(data: string): void {
    this.sent.push(data);
  }

  close(code = 1000, reason = ''): void {
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }
}

test('with a global WebSocket: used with ?token=, ws never loaded, sizes counted without Buffer', async () => {
  jest.resetModules();
  jest.doMock('ws', () => {
    throw new Error('ws was loaded on the browser path');
  });
  Reflect.set(globalThis, 'WebSocket', FakeBrowserSocket);
  try {
    const { connect } = await import('./index');
    const client = connect('ws://postbox.test/ws', 'a.b.c', { backoff: { baseMs: 1, maxMs: 1 } });
    const deadline = Date.now() + 5_000;
    while (FakeBrowserSocket.opened.length === 0 && Date.now() < deadline)
      await new Promise((wake) => setTimeout(wake, 1));
    const socket = FakeBrowserSocket.opened[0];
    expect(socket?.url).toBe('ws://postbox.test/ws?token=a.b.c');
    const welcome = {
      type: 'welcome',
      user: 'alice',
      session: 's',
      gateway: 'g',
      maxBytes: 4,
      maxFrameBytes: 16,
    };
    socket?.onopen?.({});
    socket?.onmessage?.({ data: JSON.stringify(welcome) });
    await client.opened();

    const buffer = Reflect.get(globalThis, 'Buffer');
    Reflect.deleteProperty(globalThis, 'Buffer');
    let tooBig: Promise<unknown>;
    try {
      tooBig = client.send('bob', 'ééé');
    } finally {
      Reflect.set(globalThis, 'Buffer', buffer);
    }
    await expect(tooBig).rejects.toMatchObject({ code: 'too_large' });
    await client.close();
  } finally {
    Reflect.deleteProperty(globalThis, 'WebSocket');
    jest.dontMock('ws');
  }
});
