/**
 * Whether the store counts as reachable, for /readyz and for admitting upgrades. One failed ping
 * is not enough: under load a PONG can wait behind queued commands past the ping's timeout, and
 * a gateway whose readiness flaps sheds the connections it is able to serve (nginx and the
 * orchestrator take it out, upgrades get 503). `failuresToDown` failed pings in a row are: the
 * probe loop pings every 2 s and each /readyz request pings too, so an outage shows within a few
 * seconds, and meanwhile every store command fails fast on its own (sends answer `unavailable`,
 * an upgrade whose session cannot be registered gets 503).
 */
export class StoreReadiness {
  private failures = 0;

  constructor(private readonly failuresToDown: number) {}

  get reachable(): boolean {
    return this.failures < this.failuresToDown;
  }

  /** Records one ping's outcome; returns whether the store counts as reachable now. */
  pinged(ok: boolean): boolean {
    this.failures = ok ? 0 : this.failures + 1;
    return this.reachable;
  }
}
