/** The per-connection send budget's `retryAfterMs`: the wait after which the refused send fits. */
import { SendBudget } from './limits';

const settings = {
  sendsPerSecond: 100,
  sendBurst: 5,
  bytesPerSecond: 1000,
  maxInvalidFrames: 10,
  invalidWindowMs: 10_000,
};

/** Empties the sends bucket at `now`; returns the budget. */
function spent(now: number): SendBudget {
  const budget = new SendBudget(settings, now);
  while (budget.take(1, now));
  return budget;
}

test('out of sends: the wait is one send at the refill rate, and the send fits after it, not before', () => {
  const budget = spent(0);
  const wait = budget.retryAfterMs(1, 0);
  expect(wait).toBe(10); // 100 sends/s
  expect(new SendBudget(settings, 0).retryAfterMs(1, 0)).toBe(1); // never below 1
  const early = spent(0);
  expect(early.take(1, (wait ?? 0) - 1)).toBe(false);
  expect(budget.take(1, wait ?? 0)).toBe(true);
});

test('out of bytes: the wait covers the missing bytes', () => {
  const budget = new SendBudget(settings, 0);
  expect(budget.take(900, 0)).toBe(true);
  expect(budget.take(600, 0)).toBe(false);
  const wait = budget.retryAfterMs(600, 0);
  expect(wait).toBe(500); // 500 bytes short at 1000 bytes/s
  expect(budget.take(600, (wait ?? 0) - 5)).toBe(false);
  expect(budget.take(600, wait ?? 0)).toBe(true);
});

test('time already passed since the refusal counts', () => {
  const budget = spent(0);
  expect(budget.retryAfterMs(1, 6)).toBe(4);
});

test('a send larger than the bytes bucket can never fit: no wait to promise', () => {
  expect(new SendBudget(settings, 0).retryAfterMs(1001, 0)).toBeUndefined();
});
