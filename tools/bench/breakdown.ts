/**
 * Where the time goes: per bench step, the gateways' own histograms (Redis accept, Kafka publish,
 * accept → consumed by a gateway), averaged over the step from /metrics deltas.
 */
import type { GatewayProcess } from '../../tests/support/gateways';
import { fmt } from './stats';

const SERIES = {
  redisAccept: 'postbox_redis_command_seconds_{}{op="accept"}',
  kafkaPublish: 'postbox_kafka_publish_seconds_{}',
  consumed: 'postbox_kafka_consumer_lag_seconds_{}',
  delivered: 'postbox_delivery_latency_seconds_{}',
} as const;
type Name = keyof typeof SERIES;
export type Totals = Record<Name, { sum: number; count: number }> & { gcSeconds: number; loopP99: number[] };

export async function scrape(gateways: readonly GatewayProcess[]): Promise<Totals> {
  const totals = {
    ...(Object.fromEntries(Object.keys(SERIES).map((name) => [name, { sum: 0, count: 0 }])) as Record<
      Name,
      { sum: number; count: number }
    >),
    gcSeconds: 0,
    loopP99: [] as number[],
  };
  for (const gateway of gateways) {
    const text = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
    for (const kind of ['minor', 'major', 'incremental', 'weakcb']) {
      totals.gcSeconds += read(text, `postbox_gateway_nodejs_gc_duration_seconds_sum{kind="${kind}"}`);
    }
    totals.loopP99.push(read(text, 'postbox_gateway_nodejs_eventloop_lag_p99_seconds') * 1000);
    for (const [name, pattern] of Object.entries(SERIES) as [Name, string][]) {
      totals[name].sum += read(text, pattern.replace('{}', 'sum'));
      totals[name].count += read(text, pattern.replace('{}', 'count'));
    }
  }
  return totals;
}

function read(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

export function describeStep(before: Totals, after: Totals): string {
  const mean = (name: Name) => {
    const count = after[name].count - before[name].count;
    return count === 0 ? Number.NaN : ((after[name].sum - before[name].sum) / count) * 1000;
  };
  const gcMs = (after.gcSeconds - before.gcSeconds) * 1000;
  return (
    `mean ms: redis accept ${fmt(mean('redisAccept'), 2)}, kafka publish ${fmt(mean('kafkaPublish'), 2)}, ` +
    `accept→consumed ${fmt(mean('consumed'), 2)}, accept→written ${fmt(mean('delivered'), 2)}; ` +
    `gateway GC ${fmt(gcMs, 0)} ms in the step, event-loop lag p99 ${after.loopP99.map((v) => fmt(v, 1)).join('/')} ms`
  );
}
