/** The generator's shared schedule and statistics, the CPU arithmetic and the comparison's rules. */
import {
  dueBy,
  makeBody,
  openLoop,
  runStep,
  sentAtOf,
  StepRecorder,
  type LoadDriver,
  type StepResult,
  type StepSink,
} from './load';
import { cpuSeconds, cpuTicksOf, statFields, clockTicks } from './cpu';
import {
  comparisonReport,
  highestStepUnder,
  microsPerMessage,
  type StepFigures,
  type TargetRun,
} from './report';
import { ratio, Samples, table } from './stats';

describe('open-loop schedule', () => {
  it('is due rate × elapsed sends, never more than the step holds', () => {
    expect(dueBy(0, 10, 1000)).toBe(0);
    expect(dueBy(0.0015, 10, 1000)).toBe(1);
    expect(dueBy(2.5, 10, 1000)).toBe(2500);
    expect(dueBy(11, 10, 1000)).toBe(10_000);
    expect(dueBy(-1, 10, 1000)).toBe(0);
  });

  it('fires exactly rate × seconds times, in sequence, whatever the timer does', async () => {
    const seen: number[] = [];
    const fired = await openLoop(2000, 0.1, (seq) => seen.push(seq));
    expect(fired).toBe(200);
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});

describe('message body', () => {
  it('has exactly the requested size and carries the send time', () => {
    const body = makeBody(123456.789, 100);
    expect(body).toHaveLength(100);
    expect(sentAtOf(body)).toBeCloseTo(123456.789, 3);
    expect(body).toMatch(/^[0-9.]+\|x+$/);
  });

  it('keeps the stamp when the size is too small for it', () => {
    expect(sentAtOf(makeBody(42.5, 3))).toBe(42.5);
  });
});

describe('StepRecorder', () => {
  let now = 0;
  const recorder = () => new StepRecorder(5000, () => now);

  beforeEach(() => {
    now = 1000;
  });

  it('counts answers by outcome and latency from the body', () => {
    const step = recorder();
    step.sent('a', 1000);
    step.sent('b', 1000);
    step.sent('c', 1000);
    now = 1010;
    step.answered('a', 'accepted');
    step.answered('b', 'rate_limited');
    step.answered(undefined, 'internal');
    step.arrived(makeBody(1000, 100));
    const result = step.result(1);
    expect(result).toMatchObject({ offered: 3, accepted: 1, delivered: 1, timeouts: 0 });
    expect([...result.errors]).toEqual([
      ['rate_limited', 1],
      ['internal', 1],
    ]);
    expect(result.latencyMs.percentile(50)).toBeCloseTo(10);
    expect(step.unanswered).toBe(1);
  });

  it('counts a send unanswered within the timeout as a timeout, once, and its late answer as late', () => {
    const step = recorder();
    step.sent('old', 1000);
    step.sent('new', 4000);
    now = 6001;
    step.expire();
    expect(step.timeouts).toBe(1);
    expect(step.unanswered).toBe(1);
    step.answered('old', 'accepted');
    expect(step.lateAnswers).toBe(1);
    expect(step.accepted).toBe(0);
    step.answered('new', 'accepted');
    expect(step.accepted).toBe(1);
  });

  it('counts an answer that comes after the timeout but before a sweep as a timeout', () => {
    const step = recorder();
    step.sent('slow', 1000);
    now = 7000;
    step.answered('slow', 'accepted');
    expect(step.result(1)).toMatchObject({ accepted: 0, timeouts: 1 });
  });

  it('ends a step with every unanswered send counted as a timeout', () => {
    const step = recorder();
    step.sent('x', 1000);
    step.sent('y', 1000);
    step.expire(true);
    expect(step.timeouts).toBe(2);
    expect(step.unanswered).toBe(0);
  });
});

/** A loopback target: answers and delivers everything except what `drop` says. */
function loopback(pairs: number, drop: (cid: string) => boolean = () => false): LoadDriver {
  let sink: StepSink | undefined;
  return {
    pairs,
    send(_index, body, cid) {
      if (drop(cid)) return;
      setImmediate(() => {
        sink?.answered(cid, 'accepted');
        sink?.arrived(body);
      });
    },
    attach(next) {
      sink = next;
      return () => (sink = undefined);
    },
    close: async () => undefined,
  };
}

describe('runStep', () => {
  it('offers the scheduled sends and counts what comes back', async () => {
    const result = await runStep(loopback(3), { rate: 1000, seconds: 0.2, bodyBytes: 100, timeoutMs: 1000 });
    expect(result).toMatchObject({ offered: 200, accepted: 200, delivered: 200, timeouts: 0 });
    expect(result.latencyMs.count).toBe(200);
    expect(result.latencyMs.percentile(99)).toBeLessThan(100);
  });

  it('counts sends that get no answer as timeouts once the drain gives up', async () => {
    let n = 0;
    const driver = loopback(2, () => (n += 1) % 10 === 0);
    const result = await runStep(driver, { rate: 500, seconds: 0.2, bodyBytes: 100, timeoutMs: 400 });
    expect(result).toMatchObject({ offered: 100, accepted: 90, delivered: 90, timeouts: 10 });
  });
});

describe('Samples and tables', () => {
  it('takes nearest-rank percentiles, also after more samples come', () => {
    const samples = new Samples();
    expect(samples.percentile(50)).toBeNaN();
    for (let i = 100; i >= 1; i -= 1) samples.add(i);
    expect(samples.percentile(50)).toBe(50);
    expect(samples.percentile(99)).toBe(99);
    samples.add(1000);
    expect(samples.percentile(100)).toBe(1000);
  });

  it('prints ratios and padded Markdown tables', () => {
    expect(ratio(3, 2)).toBe('1.50×');
    expect(ratio(1, 0)).toBe('-');
    expect(ratio(Number.NaN, 1)).toBe('-');
    expect(
      table(
        ['rate', 'a'],
        [
          ['1000', '1.5'],
          ['500', '12.25'],
        ],
      ),
    ).toBe('| rate |     a |\n|:-----|------:|\n| 1000 |   1.5 |\n| 500  | 12.25 |');
  });
});

describe('CPU per process', () => {
  it('reads utime + stime from a stat line whose comm has spaces and parentheses', () => {
    const stat = '4242 (node (bench) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 1000 0 0';
    expect(statFields(stat)[1]).toBe('1');
    expect(cpuTicksOf(stat)).toBe(300);
  });

  it('counts only processes present before and after the step', () => {
    const before = new Map([['nginx', new Map([[1, 100]])]]);
    const after = new Map([
      [
        'nginx',
        new Map([
          [1, 150],
          [2, 999],
        ]),
      ],
    ]);
    expect(cpuSeconds(before, after).get('nginx')).toBeCloseTo(50 / clockTicks());
    expect(cpuSeconds(new Map(), after).get('nginx')).toBeNaN();
  });
});

describe('comparison rules', () => {
  const result = (offered: number, delivered: number, p99: number, timeouts = 0): StepResult => {
    const latencyMs = new Samples();
    latencyMs.add(p99);
    return { offered, seconds: 1, accepted: delivered, delivered, timeouts, errors: new Map(), latencyMs };
  };
  const step = (rate: number, r: StepResult, cpu = 0.5): StepFigures => ({
    rate,
    result: r,
    cpuSeconds: new Map([
      ['gateway 1', cpu],
      ['gateway 2', cpu],
    ]),
    wallSeconds: 1,
  });

  it('µs of CPU per delivered message', () => {
    expect(microsPerMessage(step(1000, result(1000, 1000, 5)), ['gateway 1', 'gateway 2'])).toBeCloseTo(1000);
    expect(microsPerMessage(step(1000, result(1000, 0, 5)), ['gateway 1'])).toBeNaN();
  });

  it('the highest step under 50 ms skips steps that lost messages or timed out', () => {
    const run: TargetRun = {
      name: 'x',
      servers: [],
      processes: [],
      steps: [
        step(1000, result(1000, 1000, 10)),
        step(2000, result(2000, 2000, 40)),
        step(4000, result(4000, 3000, 20)),
        step(6000, result(6000, 6000, 30, 1)),
        step(8000, result(8000, 8000, 80)),
      ],
    };
    expect(highestStepUnder(run)).toBe(2000);
    expect(highestStepUnder({ ...run, steps: [] })).toBeUndefined();
  });

  it('prints each figure as postbox | reference | ratio, and a CPU table per target', () => {
    const run = (name: string, cpu: number, p99: number): TargetRun => ({
      name,
      servers: ['gateway 1', 'gateway 2'],
      processes: ['gateway 1', 'gateway 2'],
      steps: [step(1000, result(1000, 1000, p99), cpu)],
      idle: { cpuSeconds: new Map([['gateway 1', 0.1]]), wallSeconds: 1 },
    });
    const report = comparisonReport([run('postbox', 0.5, 20), run('reference', 0.25, 10)], [1000]);
    expect(report).toContain('ratio = postbox ÷ reference');
    expect(report).toMatch(/p99 send → delivery, ms\n\| offered\/s \| postbox \| reference \| ratio \|/);
    expect(report).toMatch(/\| 1000 +\| +20\.0 \| +10\.0 \| 2\.00× \|/);
    expect(report).toMatch(/\| 1000 +\| +1000\.0 \| +500\.0 \| 2\.00× \|/);
    expect(report).toContain('highest step with p99 < 50 ms');
    expect(report).toMatch(/postbox 1000, reference 1000/);
    expect(report).toMatch(/\| gateway 1 +\| +500\.0 \| +10 \|/);
  });
});
