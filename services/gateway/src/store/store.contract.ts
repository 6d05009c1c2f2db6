/**
 * The one behaviour suite every MailboxStore must pass (memory in unit tests, Redis in
 * tests/store). Each test makes its own store with the limits it needs and fresh user ids, so
 * runs against a shared Redis never collide. Waits poll against a deadline instead of sleeping.
 */
import { registerIdempotencyTests, registerMailboxTests } from './mailbox.contract';
import { registerPresenceTests } from './presence.contract';
import type { MailboxStore, StoreLimits } from './store';

export { freshUser, waitFor } from './contract-support';

export type MakeStore = (limits: StoreLimits) => Promise<{ store: MailboxStore; cleanup(): Promise<void> }>;

const defaultLimits: StoreLimits = {
  mailboxMax: 1000,
  mailboxRetentionSeconds: 3600,
  idempotencyTtlSeconds: 3600,
  presenceLeaseMs: 30_000,
  maxConnectionsPerUser: 10,
};

export function describeMailboxStoreContract(name: string, makeStore: MakeStore): void {
  describe(`MailboxStore contract: ${name}`, () => {
    const cleanups: Array<() => Promise<void>> = [];

    async function storeWith(overrides: Partial<StoreLimits> = {}): Promise<MailboxStore> {
      const made = await makeStore({ ...defaultLimits, ...overrides });
      cleanups.push(() => made.cleanup());
      return made.store;
    }

    afterEach(async () => {
      await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
    });

    describe('mailbox', () => registerMailboxTests(storeWith));
    describe('idempotency', () => registerIdempotencyTests(storeWith));
    describe('presence', () => registerPresenceTests(storeWith));

    it('answers ping', async () => {
      const store = await storeWith();
      expect(await store.ping()).toBe(true);
    });
  });
}
