import { describeMessageBusContract } from './bus.contract';
import { MemoryBus, MemoryTopic } from './memory';

describeMessageBusContract('memory', async () => {
  const topic = new MemoryTopic();
  const a = new MemoryBus(topic);
  const b = new MemoryBus(topic);
  return {
    a,
    b,
    cleanup: async () => {
      await Promise.all([a.stop(), b.stop()]);
    },
  };
});

describe('MemoryBus', () => {
  it('delivers asynchronously, never inside publish', async () => {
    const bus = new MemoryBus();
    const received: string[] = [];
    await bus.start((batch) => received.push(...batch.map((m) => m.id)), 0);
    const published = bus.publish({ id: 'm1', from: 'a', to: 'b', body: 'x', ts: 1, seq: 1 }, [0]);
    expect(received).toEqual([]);
    await published;
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(received).toEqual(['m1']);
    await bus.stop();
  });

  it('rejects publishes before start', async () => {
    await expect(
      new MemoryBus().publish({ id: 'm1', from: 'a', to: 'b', body: 'x', ts: 1, seq: 1 }, [0]),
    ).rejects.toThrow('not started');
  });
});
