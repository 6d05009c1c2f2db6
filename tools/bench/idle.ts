/** Gateway memory per idle connection: RSS and V8 heap from /metrics, before and after N idle sockets. */
import WebSocket from 'ws';
import type { GatewayProcess } from '../../tests/support/gateways';
import { tokenFor } from '../../tests/support/tokens';
import { fmt } from './stats';

async function memory(gateway: GatewayProcess): Promise<{ rss: number; heap: number }> {
  const text = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    rss: read('postbox_gateway_process_resident_memory_bytes'),
    heap: read('postbox_gateway_nodejs_heap_size_used_bytes'),
  };
}

/** Lets the gateway finish its work, then has it collect garbage (it runs with --expose-gc). */
async function settle(gateway: GatewayProcess): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 2000));
  gateway.kill('SIGUSR2');
  await new Promise((resolve) => setTimeout(resolve, 1000));
}

export async function measureIdleMemory(gateway: GatewayProcess, count: number): Promise<void> {
  console.log(
    `\nidle connections: opening ${count} directly to one gateway (nginx keeps its own buffers)...`,
  );
  await settle(gateway);
  const before = await memory(gateway);
  const sockets: WebSocket[] = [];
  const batch = 200;
  for (let i = 0; i < count; i += batch) {
    const opened = await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, async (_, j) => {
        const token = await tokenFor(`idle-${i + j}`);
        const ws = new WebSocket(`${gateway.url}/ws`, {
          headers: { authorization: `Bearer ${token}` },
          perMessageDeflate: false,
        });
        await new Promise<void>((resolve, reject) => {
          ws.on('message', (data) => {
            if (data.toString().includes('"synced"')) resolve();
          });
          ws.once('error', reject);
        });
        return ws;
      }),
    );
    sockets.push(...opened);
  }
  await settle(gateway);
  const after = await memory(gateway);
  console.log(
    `gateway RSS ${fmt(before.rss / 2 ** 20)} → ${fmt(after.rss / 2 ** 20)} MiB: ${fmt((after.rss - before.rss) / count, 0)} bytes per idle connection ` +
      `(V8 heap: ${fmt((after.heap - before.heap) / count, 0)} bytes per connection)`,
  );
  for (const ws of sockets) ws.terminate();
}
