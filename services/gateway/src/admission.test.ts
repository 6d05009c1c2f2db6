/** The admission rule on a fake clock: a bound on sends in flight, and on the age of the oldest. */
import { Admission, Refusal } from './admission';

function admission(maxInflight: number, targetMs: number) {
  const clock = { now: 0 };
  return { clock, gate: new Admission({ maxInflight, targetMs }, () => clock.now) };
}

function admitAll(gate: Admission, count: number): number[] {
  return Array.from({ length: count }, () => {
    const ticket = gate.admit();
    if (ticket < 0) throw new Error(`refused (${ticket})`);
    return ticket;
  });
}

test('admits up to maxInflight sends at once, then refuses until one is answered', () => {
  const { gate } = admission(3, 250);
  const tickets = admitAll(gate, 3);
  expect(gate.inFlight).toBe(3);
  expect(gate.admit()).toBe(Refusal.InFlight);
  expect(gate.admit()).toBe(Refusal.InFlight);
  gate.finish(tickets[1] ?? -1);
  expect(gate.inFlight).toBe(2);
  expect(gate.admit()).toBeGreaterThanOrEqual(0);
  expect(gate.admit()).toBe(Refusal.InFlight);
});

test('refuses while the oldest send in flight is older than the target, admits again once it is answered', () => {
  const { clock, gate } = admission(10, 250);
  const [oldest = -1] = admitAll(gate, 1);
  clock.now = 200;
  const [younger = -1] = admitAll(gate, 1);
  clock.now = 250;
  expect(gate.admit()).toBeGreaterThanOrEqual(0); // exactly the target is not behind yet
  clock.now = 251;
  expect(gate.admit()).toBe(Refusal.Behind);
  expect(gate.inFlight).toBe(3);

  gate.finish(oldest); // the next oldest started at 200: 51 ms old
  expect(gate.admit()).toBeGreaterThanOrEqual(0);
  clock.now = 451;
  expect(gate.admit()).toBe(Refusal.Behind);
  gate.finish(younger); // the next oldest started at 250: 201 ms old
  expect(gate.admit()).toBeGreaterThanOrEqual(0);
  clock.now = 501;
  expect(gate.admit()).toBe(Refusal.Behind);
});

test('an answer out of start order does not hide an older send still in flight', () => {
  const { clock, gate } = admission(10, 250);
  const [first = -1, second = -1] = admitAll(gate, 2);
  gate.finish(second);
  clock.now = 300;
  expect(gate.admit()).toBe(Refusal.Behind);
  gate.finish(first);
  expect(gate.admit()).toBeGreaterThanOrEqual(0);
});

test('a few slow sends are not a backlog: the age rule starts at a tenth of the bound in flight', () => {
  const { clock, gate } = admission(100, 250);
  admitAll(gate, 9);
  clock.now = 10_000;
  admitAll(gate, 1); // 9 in flight, 10 s old: a slow dependency, nothing queued behind it
  expect(gate.admit()).toBe(Refusal.Behind); // 10 in flight
});

test('nothing in flight: never behind, however long it was idle', () => {
  const { clock, gate } = admission(10, 250);
  gate.finish(admitAll(gate, 1)[0] ?? -1);
  clock.now = 1_000_000;
  expect(gate.admit()).toBeGreaterThanOrEqual(0);
});

test('a ticket answered twice counts once, at the head or behind it', () => {
  const { gate } = admission(3, 250);
  const [first = -1, second = -1] = admitAll(gate, 3);
  gate.finish(second);
  gate.finish(second);
  expect(gate.inFlight).toBe(2);
  gate.finish(first);
  gate.finish(first);
  expect(gate.inFlight).toBe(1);
  admitAll(gate, 2);
  expect(gate.admit()).toBe(Refusal.InFlight);
});

test('keeps working across many laps of its ring, with answers out of order', () => {
  const { clock, gate } = admission(4, 250);
  for (let lap = 0; lap < 1000; lap += 1) {
    const tickets = admitAll(gate, 4);
    expect(gate.admit()).toBe(Refusal.InFlight);
    for (const ticket of [tickets[2], tickets[0], tickets[3], tickets[1]]) gate.finish(ticket ?? -1);
    expect(gate.inFlight).toBe(0);
    clock.now += 10;
  }
});

test('a stuck send with answers flowing past it fills the ring: refused, not overwritten', () => {
  const { gate } = admission(2, 1_000_000);
  const [stuck = -1] = admitAll(gate, 1);
  // Capacity is 2 x maxInflight: the stuck one plus three answered ones fill it.
  for (let i = 0; i < 3; i += 1) gate.finish(admitAll(gate, 1)[0] ?? -1);
  expect(gate.inFlight).toBe(1);
  expect(gate.admit()).toBe(Refusal.InFlight);
  gate.finish(stuck);
  expect(gate.admit()).toBeGreaterThanOrEqual(0);
});

test('retryAfterMs is the target', () => {
  expect(admission(10, 300).gate.retryAfterMs).toBe(300);
});
