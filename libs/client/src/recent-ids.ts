/**
 * The ids of recently delivered messages, bounded: at-least-once delivery means an id can come
 * again (after a reconnect, before its ack reached the server), and the SDK surfaces it once.
 * Oldest entries are dropped past `capacity`, so memory stays flat on long-lived clients.
 */
export type DeliveryState = 'delivered' | 'acked';

export class RecentIds {
  private readonly states = new Map<string, DeliveryState>();

  constructor(private readonly capacity: number) {}

  get(id: string): DeliveryState | undefined {
    return this.states.get(id);
  }

  set(id: string, state: DeliveryState): void {
    // Re-inserting moves the id to the young end of the Map's insertion order.
    this.states.delete(id);
    this.states.set(id, state);
    if (this.states.size > this.capacity) {
      const oldest = this.states.keys().next();
      if (oldest.done !== true) this.states.delete(oldest.value);
    }
  }

  forget(id: string): void {
    this.states.delete(id);
  }

  get size(): number {
    return this.states.size;
  }
}
