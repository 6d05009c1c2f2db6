/**
 * docs/grafana-dashboard.json queries only series the gateway exposes (histograms through their
 * _bucket/_sum/_count series), with labels those metrics carry, so a renamed metric or label
 * breaks this test instead of leaving an empty panel.
 */
import { z } from 'zod';
import { GatewayMetrics } from '../../services/gateway/src/metrics';
import { readRepoFile } from './repo-files';

const datasource = z.object({ type: z.literal('prometheus'), uid: z.literal('${datasource}') });
const panel = z.object({
  id: z.number(),
  type: z.string(),
  title: z.string(),
  datasource: datasource.optional(),
  targets: z.array(z.object({ expr: z.string(), refId: z.string(), datasource })).default([]),
});
const dashboard = z.object({
  schemaVersion: z.number().min(36),
  uid: z.string(),
  templating: z.object({
    list: z.array(z.object({ type: z.string(), name: z.string(), query: z.unknown() })),
  }),
  panels: z.array(panel),
});

const parsed = dashboard.safeParse(JSON.parse(readRepoFile('docs/grafana-dashboard.json')));
// A malformed file fails the first test by name rather than the whole suite at load time.
const board = parsed.success
  ? parsed.data
  : { schemaVersion: 0, uid: '', templating: { list: [] }, panels: [] };
const exprs = board.panels.flatMap((p) => p.targets.map((target) => target.expr));
const registry = new GatewayMetrics().registry;
/** Labels Prometheus adds to every scraped series. */
const SCRAPE_LABELS = ['instance', 'job'];

interface Series {
  metric: string;
  type: string;
  labels: string[];
}

async function exposedSeries(): Promise<Map<string, Series>> {
  const series = new Map<string, Series>();
  for (const { name, type } of await registry.getMetricsAsJSON()) {
    const declared = z
      .object({ labelNames: z.array(z.string()).default([]) })
      .parse(registry.getSingleMetric(name));
    const entry = { metric: name, type: String(type), labels: declared.labelNames };
    const suffixes = entry.type === 'histogram' ? ['_bucket', '_sum', '_count'] : [''];
    for (const suffix of suffixes) series.set(`${name}${suffix}`, entry);
  }
  return series;
}

const metricsIn = (expr: string): string[] => [...expr.matchAll(/\bpostbox_\w+/g)].map(([name]) => name);

test('is a Grafana dashboard over a Prometheus data source variable', () => {
  expect(parsed.error?.issues ?? []).toEqual([]);
  const variables = board.templating.list;
  expect(variables).toContainEqual(expect.objectContaining({ type: 'datasource', query: 'prometheus' }));
  const ids = board.panels.map((p) => p.id);
  expect(new Set(ids).size).toBe(ids.length);
  const dataPanels = board.panels.filter((p) => p.type !== 'row');
  expect(dataPanels.every((p) => p.datasource !== undefined && p.targets.length > 0)).toBe(true);
});

test('every series a query names is exposed by metrics.ts', async () => {
  const series = await exposedSeries();
  const unknown = exprs.flatMap(metricsIn).filter((name) => !series.has(name));
  expect(unknown).toEqual([]);
});

test('quantiles come from buckets by le; rate() reads only counters and histogram series', async () => {
  const series = await exposedSeries();
  for (const expr of exprs) {
    if (expr.includes('histogram_quantile(')) {
      expect({ expr, ok: /by \(le\b/.test(expr) && /_bucket\b/.test(expr) }).toEqual({ expr, ok: true });
    }
    for (const [, name = ''] of expr.matchAll(/\brate\((postbox_\w+)/g)) {
      const type = series.get(name)?.type;
      expect({ name, counts: type === 'counter' || type === 'histogram' }).toEqual({ name, counts: true });
    }
  }
});

test('grouping and matcher labels exist on the metrics queried', async () => {
  const series = await exposedSeries();
  for (const expr of exprs) {
    const known = new Set([
      ...SCRAPE_LABELS,
      ...metricsIn(expr).flatMap((name) => {
        const found = series.get(name);
        return found === undefined ? [] : [...found.labels, ...(found.type === 'histogram' ? ['le'] : [])];
      }),
    ]);
    const grouped = [...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap(([, list = '']) => list.split(','));
    const matched = [...expr.matchAll(/\{([^}]*)\}/g)].flatMap(([, body = '']) =>
      [...body.matchAll(/(\w+)\s*[=!]~?/g)].map(([, label = '']) => label),
    );
    const unknown = [...grouped, ...matched]
      .map((label) => label.trim())
      .filter((label) => !known.has(label));
    expect({ expr, unknown }).toEqual({ expr, unknown: [] });
  }
});

test('covers every postbox metric the gateway updates', async () => {
  const queried = new Set(exprs.flatMap(metricsIn).map((name) => name.replace(/_(bucket|sum|count)$/, '')));
  const declared = (await registry.getMetricsAsJSON())
    .map((metric) => metric.name)
    .filter((name) => !name.startsWith('postbox_gateway_'));
  expect(declared.filter((name) => !queried.has(name))).toEqual([]);
  for (const processMetric of [
    'postbox_gateway_process_resident_memory_bytes',
    'postbox_gateway_process_cpu_seconds_total',
  ]) {
    expect(queried).toContain(processMetric);
  }
});
