/**
 * The end-to-end setup most suites share: two real gateway processes on one run-unique Redis key
 * prefix and Kafka topic, behind a real nginx.
 */
import { isolatedEnv, startGateway, type GatewayProcess } from './gateways';
import { startNginx, type RunningNginx } from './nginx';

export interface TwoGatewayEdge {
  gateways: GatewayProcess[];
  edge: RunningNginx;
}

/** `env` adds to (or overrides) the isolated Redis/Kafka names, e.g. tighter limits. */
export async function startTwoGatewayEdge(env: Record<string, string> = {}): Promise<TwoGatewayEdge> {
  const gatewayEnv = { ...isolatedEnv(), ...env };
  const gateways = await Promise.all([startGateway({ env: gatewayEnv }), startGateway({ env: gatewayEnv })]);
  const edge = await startNginx({ upstreamPorts: gateways.map((gateway) => gateway.port) });
  return { gateways, edge };
}

/** Stops nginx first (no new connections), then the gateways; safe after a failed start. */
export async function stopTwoGatewayEdge(
  gateways: readonly GatewayProcess[],
  edge: RunningNginx | undefined,
): Promise<void> {
  await edge?.stop();
  await Promise.all(gateways.map((gateway) => gateway.stop()));
}
