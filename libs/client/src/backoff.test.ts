import { CloseCode } from '@postbox/protocol';
import { backoffDelay, reconnectDelay } from './backoff';
import { RecentIds } from './recent-ids';

const options = { baseMs: 100, maxMs: 1_000, tryAgainLaterMs: 5_000 };
const almostOne = () => 0.999_999;

describe('backoffDelay (full jitter)', () => {
  it('doubles its ceiling per attempt up to maxMs', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((attempt) => backoffDelay(attempt, options, almostOne))).toEqual([
      99, 199, 399, 799, 999, 999, 999,
    ]);
  });

  it('draws uniformly below the ceiling', () => {
    expect(backoffDelay(3, options, () => 0)).toBe(0);
    expect(backoffDelay(3, options, () => 0.5)).toBe(400);
  });
});

describe('reconnectDelay', () => {
  it('comes back within baseMs after 1012 (draining: nginx sends us to another gateway)', () => {
    expect(reconnectDelay(CloseCode.ServiceRestart, 0, options, almostOne)).toBeLessThan(options.baseMs);
  });

  it('stays away at least tryAgainLaterMs after 1013', () => {
    expect(reconnectDelay(CloseCode.TryAgainLater, 0, options, () => 0)).toBe(5_000);
    expect(reconnectDelay(CloseCode.TryAgainLater, 2, options, almostOne)).toBe(5_399);
  });

  it('backs off exponentially after an abnormal close', () => {
    expect(reconnectDelay(1006, 3, options, almostOne)).toBe(799);
  });
});

describe('RecentIds', () => {
  it('forgets the oldest ids beyond its capacity', () => {
    const recent = new RecentIds(3);
    for (const id of ['a', 'b', 'c', 'd']) recent.set(id, 'delivered');
    expect(recent.size).toBe(3);
    expect(recent.get('a')).toBeUndefined();
    expect(recent.get('d')).toBe('delivered');
  });

  it('refreshes an id that is set again', () => {
    const recent = new RecentIds(2);
    recent.set('a', 'delivered');
    recent.set('b', 'delivered');
    recent.set('a', 'acked');
    recent.set('c', 'delivered');
    expect(recent.get('a')).toBe('acked');
    expect(recent.get('b')).toBeUndefined();
  });
});
