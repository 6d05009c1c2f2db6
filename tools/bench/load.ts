/**
 * The load generator's shared part, the same for every target: the open-loop schedule (senders
 * send on a clock whatever the answers do; a closed loop would hide latency by slowing down), the
 * message body, and what a step counts. A driver (postbox-driver.ts, socketio-driver.ts) only
 * speaks its protocol: it sends what it is told and reports answers and deliveries to the step.
 *
 * Latency is send → message at the recipient, both in this process's clock: the body starts with
 * the send time (performance.now()), so no table of sends is needed to match deliveries.
 */
import { Samples } from './stats';

/** What a driver reports to the running step. */
export interface StepSink {
  /** The sender's answer to send `cid`: 'accepted' or the refusal's error code. */
  answered(cid: string | undefined, outcome: string): void;
  /** A `message` arrived at its recipient with this body. */
  arrived(body: string): void;
  /** Anything else that went wrong (a closed connection, an error without cid), by code. */
  error(code: string): void;
}

/** One target's connected users: sender i sends to recipient i. */
export interface LoadDriver {
  readonly pairs: number;
  send(index: number, body: string, cid: string): void;
  /** Routes answers and deliveries to `sink` until the returned function is called. */
  attach(sink: StepSink): () => void;
  close(): Promise<void>;
}

export interface StepOptions {
  rate: number;
  seconds: number;
  bodyBytes: number;
  /** A send with no answer within this many ms counts as a timeout (not as accepted or refused). */
  timeoutMs: number;
}

export interface StepResult {
  offered: number;
  seconds: number;
  accepted: number;
  delivered: number;
  /** Sends with no answer within the timeout. */
  timeouts: number;
  /** Refusals by error code, plus connection-level errors. */
  errors: Map<string, number>;
  latencyMs: Samples;
}

const STAMP_DIGITS = 3;

/** A body of exactly `bytes` ASCII characters (more if `bytes` cannot hold the stamp) starting with the send time. */
export function makeBody(sentAt: number, bytes: number): string {
  const stamp = `${sentAt.toFixed(STAMP_DIGITS)}|`;
  return stamp + 'x'.repeat(Math.max(0, bytes - stamp.length));
}

export function sentAtOf(body: string): number {
  return Number(body.slice(0, body.indexOf('|')));
}

/** How many sends are due `elapsed` seconds into a step of `seconds` at `rate` per second. */
export function dueBy(elapsed: number, seconds: number, rate: number): number {
  return Math.floor(Math.min(Math.max(0, elapsed), seconds) * rate);
}

/**
 * Calls `fire(seq)` for seq = 0, 1, ... so that `rate × elapsed` calls have happened at every
 * tick (every `tickMs`), for `seconds`; `tick` runs after each batch. Resolves with the count.
 */
export async function openLoop(
  rate: number,
  seconds: number,
  fire: (seq: number) => void,
  tick: () => void = () => undefined,
  tickMs = 2,
): Promise<number> {
  const started = performance.now();
  let fired = 0;
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000;
      for (const due = dueBy(elapsed, seconds, rate); fired < due; fired += 1) fire(fired);
      tick();
      if (elapsed >= seconds) {
        clearInterval(timer);
        done();
      }
    }, tickMs);
  });
  return fired;
}

/** Counts one step: sends, answers (matched by cid, with a timeout), deliveries and latency. */
export class StepRecorder implements StepSink {
  accepted = 0;
  delivered = 0;
  timeouts = 0;
  /** Answers that came after their send had already counted as a timeout. */
  lateAnswers = 0;
  readonly errors = new Map<string, number>();
  readonly latencyMs = new Samples();
  /** cid → send time; a Map iterates in insertion order, i.e. oldest send first. */
  private readonly pending = new Map<string, number>();
  private sends = 0;

  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get offered(): number {
    return this.sends;
  }

  get unanswered(): number {
    return this.pending.size;
  }

  sent(cid: string, at: number): void {
    this.sends += 1;
    this.pending.set(cid, at);
  }

  answered(cid: string | undefined, outcome: string): void {
    if (cid === undefined) {
      if (outcome !== 'accepted') this.error(outcome);
      return;
    }
    const at = this.pending.get(cid);
    if (at === undefined) {
      this.lateAnswers += 1;
      return;
    }
    this.pending.delete(cid);
    if (this.now() - at > this.timeoutMs) this.timeouts += 1;
    else if (outcome === 'accepted') this.accepted += 1;
    else this.error(outcome);
  }

  arrived(body: string): void {
    this.delivered += 1;
    this.latencyMs.add(this.now() - sentAtOf(body));
  }

  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** Counts sends older than the timeout as timeouts; `all` ends the step: every unanswered send. */
  expire(all = false): void {
    const limit = this.now() - this.timeoutMs;
    for (const [cid, at] of this.pending) {
      if (!all && at >= limit) break;
      this.pending.delete(cid);
      this.timeouts += 1;
    }
  }

  result(seconds: number): StepResult {
    return {
      offered: this.sends,
      seconds,
      accepted: this.accepted,
      delivered: this.delivered,
      timeouts: this.timeouts,
      errors: new Map(this.errors),
      latencyMs: this.latencyMs,
    };
  }
}

let stepCount = 0;

/** One open-loop step through `driver`: `rate` sends per second round-robin over the pairs, then a drain. */
export async function runStep(driver: LoadDriver, options: StepOptions): Promise<StepResult> {
  const { rate, seconds, bodyBytes, timeoutMs } = options;
  const step = (stepCount += 1).toString(36);
  const recorder = new StepRecorder(timeoutMs);
  const detach = driver.attach(recorder);
  await openLoop(
    rate,
    seconds,
    (seq) => {
      const cid = `${step}.${seq.toString(36)}`;
      const at = performance.now();
      recorder.sent(cid, at);
      driver.send(seq % driver.pairs, makeBody(at, bodyBytes), cid);
    },
    () => recorder.expire(),
  );
  // Let in-flight answers and messages land (open loop: nothing waited for them), at most until
  // the last send's timeout; then whatever is unanswered counts as a timeout.
  const deadline = performance.now() + timeoutMs;
  while (
    (recorder.unanswered > 0 || recorder.delivered < recorder.accepted) &&
    performance.now() < deadline
  ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    recorder.expire();
  }
  recorder.expire(true);
  detach();
  return recorder.result(seconds);
}

/** Opens sender/recipient pairs `bench-s<i>` → `bench-r<i>` (recipient first, so it is online when sent to). */
export async function connectPairs<T>(
  pairs: number,
  open: (user: string) => Promise<T>,
): Promise<{ senders: T[]; recipients: T[]; users: { sender: string; recipient: string }[] }> {
  const senders: T[] = [];
  const recipients: T[] = [];
  const users: { sender: string; recipient: string }[] = [];
  for (let i = 0; i < pairs; i += 1) {
    const [sender, recipient] = [`bench-s${i}`, `bench-r${i}`];
    recipients.push(await open(recipient));
    senders.push(await open(sender));
    users.push({ sender, recipient });
  }
  return { senders, recipients, users };
}
