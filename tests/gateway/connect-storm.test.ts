/**
 * Regression: uWS closed about one in 250 freshly upgraded sockets (1006, right after `welcome`)
 * when the upgrade completed inside res.cork() from an async callback and the open handler wrote
 * to the socket (uWebSockets.js issue 1108). Every connection must reach `synced`.
 */
import { randomBytes } from 'node:crypto';
import { TestClient } from '../support/client';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { tokenFor } from '../support/tokens';

let gateways: GatewayProcess[] = [];

beforeAll(async () => {
  const env = isolatedEnv();
  gateways = await Promise.all([startGateway({ env }), startGateway({ env })]);
});

afterAll(async () => {
  await Promise.all(gateways.map((gateway) => gateway.stop()));
});

test('2,000 connections in a row all get welcome then synced, none is dropped', async () => {
  const run = randomBytes(3).toString('hex');
  const failures: string[] = [];
  const open: TestClient[] = [];
  for (let i = 0; i < 2000; i += 1) {
    const gateway = gateways[i % gateways.length];
    if (gateway === undefined) throw new Error('no gateway');
    try {
      const client = await TestClient.connect(gateway.url, { token: await tokenFor(`storm-${run}-${i}`) });
      await client.next('synced', 5000);
      open.push(client);
    } catch (error) {
      failures.push(`#${i}: ${String(error).slice(0, 200)}`);
    }
    if (open.length >= 500) await Promise.all(open.splice(0).map((client) => client.close()));
  }
  await Promise.all(open.map((client) => client.close()));
  expect(failures).toEqual([]);
});
