/**
 * The comparison printed at the end of `make bench`: one table per figure with the columns
 * postbox | reference | ratio (postbox ÷ reference), and a CPU table per target.
 */
import type { StepResult } from './load';
import { fmt, ratio, table } from './stats';

export interface StepFigures {
  rate: number;
  result: StepResult;
  /** CPU seconds per process group over the step (its sends and its drain). */
  cpuSeconds: Map<string, number>;
  /** Wall-clock seconds between the two CPU samples. */
  wallSeconds: number;
}

export interface TargetRun {
  name: string;
  /** Labels of the system's own server processes (gateways, or reference instances). */
  servers: string[];
  /** Every process group measured, in table order. */
  processes: string[];
  steps: StepFigures[];
  /** CPU over a window with the users connected and no traffic (the fixed cost), if measured. */
  idle?: { cpuSeconds: Map<string, number>; wallSeconds: number };
}

/** The latency target of the issue. */
export const P99_TARGET_MS = 50;

export function microsPerMessage(step: StepFigures, labels: readonly string[]): number {
  let seconds = 0;
  for (const label of labels) seconds += step.cpuSeconds.get(label) ?? Number.NaN;
  return step.result.delivered === 0 ? Number.NaN : (seconds / step.result.delivered) * 1e6;
}

export function errorsText(result: StepResult): string {
  return [...result.errors].map(([code, n]) => `${code}:${n}`).join(' ') || '0';
}

/**
 * The highest offered rate whose p99 is under the target, counting only steps that delivered at
 * least 99 % of what they offered (a step that loses messages does not pass on its latency).
 */
export function highestStepUnder(run: TargetRun, limitMs = P99_TARGET_MS): number | undefined {
  let best: number | undefined;
  for (const { rate, result } of run.steps) {
    const complete = result.delivered >= 0.99 * result.offered && result.timeouts === 0;
    if (complete && result.latencyMs.percentile(99) < limitMs && (best === undefined || rate > best))
      best = rate;
  }
  return best;
}

/** The per-step line printed while the benchmark runs. */
export function stepLine(step: StepFigures, servers: readonly string[]): string {
  const { result, rate } = step;
  const perSecond = (n: number) => fmt(n / result.seconds, 0);
  return (
    `${String(rate).padStart(9)}  ${perSecond(result.accepted).padStart(10)}  ${perSecond(result.delivered).padStart(11)}  ` +
    `${fmt(result.latencyMs.percentile(50)).padStart(6)}  ${fmt(result.latencyMs.percentile(99)).padStart(6)}  ` +
    `${fmt(result.latencyMs.percentile(99.9)).padStart(8)}  ${String(result.timeouts).padStart(8)}  ` +
    `${fmt(microsPerMessage(step, servers), 0).padStart(10)}  ${errorsText(result)}`
  );
}

export const STEP_HEADER =
  'offered/s  accepted/s  delivered/s  p50 ms  p99 ms  p99.9 ms  timeouts  server µs/msg  errors';

interface Figure {
  title: string;
  value: (step: StepFigures, run: TargetRun) => number;
  digits: number;
}

const FIGURES: Figure[] = [
  { title: 'goodput, delivered/s', value: (s) => s.result.delivered / s.result.seconds, digits: 0 },
  { title: 'p50 send → delivery, ms', value: (s) => s.result.latencyMs.percentile(50), digits: 1 },
  { title: 'p99 send → delivery, ms', value: (s) => s.result.latencyMs.percentile(99), digits: 1 },
  { title: 'p99.9 send → delivery, ms', value: (s) => s.result.latencyMs.percentile(99.9), digits: 1 },
  { title: 'timeouts (sends with no answer in time)', value: (s) => s.result.timeouts, digits: 0 },
  {
    title: 'server CPU per delivered message, µs (both gateways / both reference instances)',
    value: (s, run) => microsPerMessage(s, run.servers),
    digits: 1,
  },
  {
    title: 'all measured processes, CPU per delivered message, µs',
    value: (s, run) => microsPerMessage(s, run.processes),
    digits: 1,
  },
];

export function comparisonReport(runs: readonly TargetRun[], rates: readonly number[]): string {
  const names = runs.map((run) => run.name);
  const compare = runs.length === 2;
  const headers = ['offered/s', ...names, ...(compare ? ['ratio'] : [])];
  const stepAt = (run: TargetRun, rate: number) => run.steps.find((step) => step.rate === rate);
  const out: string[] = [];
  if (names.includes('reference'))
    out.push('reference = Socket.IO 4 + @socket.io/redis-adapter (tools/bench/reference)');
  if (compare) out.push(`ratio = ${names[0]} ÷ ${names[1]}`);
  for (const figure of FIGURES) {
    const rows = rates.map((rate) => {
      const values = runs.map((run) => {
        const step = stepAt(run, rate);
        return step === undefined ? Number.NaN : figure.value(step, run);
      });
      return [
        String(rate),
        ...values.map((v) => fmt(v, figure.digits)),
        ...(compare ? [ratio(values[0] ?? Number.NaN, values[1] ?? Number.NaN)] : []),
      ];
    });
    out.push(`\n${figure.title}\n${table(headers, rows)}`);
  }
  const errorRows = rates.map((rate) => [
    String(rate),
    ...runs.map((run) => {
      const step = stepAt(run, rate);
      return step === undefined ? '-' : errorsText(step.result);
    }),
  ]);
  out.push(`\nerrors and refusals by code\n${table(['offered/s', ...names], errorRows)}`);
  out.push(
    `\nhighest step with p99 < ${P99_TARGET_MS} ms (and ≥ 99 % delivered, no timeouts): ` +
      runs.map((run) => `${run.name} ${highestStepUnder(run) ?? 'none'}`).join(', '),
  );
  for (const run of runs) out.push(`\n${cpuTable(run)}`);
  return out.join('\n');
}

/**
 * µs of CPU per delivered message, per process, per step (the step's CPU, fixed costs included,
 * over its deliveries); the idle column is each process's CPU with the users connected and no traffic.
 */
export function cpuTable(run: TargetRun): string {
  const { idle } = run;
  const headers = [
    `${run.name}: CPU µs per delivered message`,
    ...run.steps.map((s) => `${s.rate}/s`),
    ...(idle === undefined ? [] : ['idle, % of a core']),
  ];
  const share = (
    window: { cpuSeconds: Map<string, number>; wallSeconds: number },
    labels: readonly string[],
  ) => {
    let seconds = 0;
    for (const label of labels) seconds += window.cpuSeconds.get(label) ?? Number.NaN;
    return fmt((seconds / window.wallSeconds) * 100, 0);
  };
  const row = (label: string, labels: readonly string[]) => [
    label,
    ...run.steps.map((s) => fmt(microsPerMessage(s, labels), 1)),
    ...(idle === undefined ? [] : [share(idle, labels)]),
  ];
  const rows = run.processes.map((label) => row(label, [label]));
  rows.push(row('all of the above', run.processes));
  rows.push([
    'all of the above, % of a core',
    ...run.steps.map((s) => share(s, run.processes)),
    ...(idle === undefined ? [] : ['']),
  ]);
  return table(headers, rows);
}
