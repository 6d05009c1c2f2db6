/** Helpers shared by the MailboxStore contract suites (*.contract.ts). Test-only code. */
import { randomUUID } from 'node:crypto';
import type { AcceptRequest, AcceptResult, GatewayRef, MailboxStore, StoreLimits } from './store';

/** Short enough to watch a lease end within a test, long enough to survive a busy event loop. */
export const SHORT_LEASE_MS = 300;
export const TIMED_TEST_MS = 15_000;

export type StoreWith = (overrides?: Partial<StoreLimits>) => Promise<MailboxStore>;
export type Stored = Extract<AcceptResult, { kind: 'stored' }>;

export function freshUser(label: string): string {
  return `${label}-${randomUUID().slice(0, 12)}`;
}

let nextId = 0;
/** Ids that increase in creation order, like the gateway's ULIDs. */
function messageId(): string {
  nextId += 1;
  return `m-${Date.now().toString(36)}-${String(nextId).padStart(8, '0')}`;
}

export function request(from: string, to: string, extra: Partial<AcceptRequest> = {}): AcceptRequest {
  return { id: messageId(), from, to, body: `hello ${to}`, ts: Date.now(), ...extra };
}

export async function acceptStored(store: MailboxStore, req: AcceptRequest): Promise<Stored> {
  const result = await store.accept(req);
  if (result.kind !== 'stored') throw new Error(`expected stored, got ${result.kind}`);
  return result;
}

export async function waitFor(what: string, check: () => Promise<boolean>, deadlineMs = 5000): Promise<void> {
  const giveUpAt = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > giveUpAt) throw new Error(`timed out after ${deadlineMs} ms waiting for: ${what}`);
    await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A gateway as the store sees it; tests name gateways and let them share route 0 unless they care. */
export function gw(id: string, route = 0): GatewayRef {
  return { id, route };
}
