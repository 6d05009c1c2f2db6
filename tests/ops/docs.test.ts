/**
 * docs/operations.md cannot drift: its tables must list exactly the gateway's config variables
 * (with the schema's defaults), the native scripts' variables (with the scripts' defaults) and
 * the metrics the gateway registers (with their types).
 */
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { gatewayEnvShape } from '@postbox/config';
import { GatewayMetrics } from '../../services/gateway/src/metrics';
import { ROOT, readRepoFile } from './repo-files';

const operations = readRepoFile('docs/operations.md');

/** The rows of the first table under `## heading`, each as its cells (backticks kept). */
function tableUnder(heading: string): string[][] {
  const start = operations.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`docs/operations.md has no "## ${heading}" section`);
  const end = operations.indexOf('\n## ', start + 1);
  const lines = operations.slice(start, end < 0 ? undefined : end).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

const unquote = (cell: string): string => /^`([^`]+)`$/.exec(cell)?.[1] ?? `(not one code span: ${cell})`;

describe('docs/operations.md: gateway environment variables', () => {
  const rows = tableUnder('Gateway environment variables');
  const documented = rows.map(([name = '']) => unquote(name));

  test('lists exactly the variables of the config schema, once each', () => {
    expect([...documented].sort()).toEqual(Object.keys(gatewayEnvShape.shape).sort());
  });

  test('states each schema default, and no default where the schema has none', () => {
    const defaults: Record<string, unknown> = gatewayEnvShape.parse({});
    for (const [name = '', cell = ''] of rows) {
      const value = defaults[unquote(name)];
      const hasDefault = value !== undefined && !(Array.isArray(value) && value.length === 0);
      const expected = hasDefault ? `\`${String(value)}\`` : expect.stringMatching(/^—/);
      expect({ name, default: cell }).toEqual({ name, default: expected });
    }
  });
});

describe('docs/operations.md: native stack variables', () => {
  const rows = tableUnder('Native stack variables (`tools/*.sh`)');
  const scripts = ['tools', 'tools/lib'].flatMap((dir) =>
    readdirSync(resolve(ROOT, dir))
      .filter((file) => file.endsWith('.sh'))
      .map((file) => readRepoFile(`${dir}/${file}`)),
  );
  const assigned = new Map<string, Set<string>>();
  for (const text of scripts) {
    for (const [, name = '', value = ''] of text.matchAll(/^([A-Z][A-Z0-9_]*)="\$\{\1:-(.*)\}"$/gm)) {
      assigned.set(name, (assigned.get(name) ?? new Set()).add(value));
    }
  }

  test('lists every configurable script variable with its default', () => {
    const documented = new Map(rows.map(([name = '', cell = '']) => [unquote(name), cell]));
    for (const [name, values] of assigned) {
      expect({ name, defaults: [...values] }).toEqual({ name, defaults: [values.values().next().value] });
      expect({ name, documented: documented.get(name) }).toEqual({
        name,
        documented: `\`${[...values][0]}\``,
      });
    }
  });

  test('lists only variables the scripts read', () => {
    const all = scripts.join('\n');
    const unread = rows.map(([name = '']) => unquote(name)).filter((name) => !all.includes(`\${${name}`));
    expect(unread).toEqual([]);
  });
});

describe('docs/operations.md: metrics', () => {
  test('lists exactly the postbox_ metrics the gateway registers, with their types', async () => {
    const registered = (await new GatewayMetrics().registry.getMetricsAsJSON())
      .filter((metric) => !metric.name.startsWith('postbox_gateway_'))
      .map((metric) => [metric.name, String(metric.type)])
      .sort();
    const documented = tableUnder('Metrics')
      .map(([name = '', type = '']) => [unquote(name), type])
      .sort();
    expect(documented).toEqual(registered);
  });
});
