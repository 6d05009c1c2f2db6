/**
 * This gateway's route: the one bus partition it consumes, claimed in the store with a lease
 * (store/claim-route.lua). Sessions are registered under it, so a live message is produced only
 * to the partitions of gateways that hold a session of its recipient, and a recipient whose
 * sessions are all here is written in process without the bus hop (`localRoute`).
 */
import type { Logger } from '@postbox/logger';
import type { GatewayRef, MailboxStore, RouteClaim } from './store/store';

export interface RouteSettings {
  gatewayId: string;
  /** How many routes exist: the bus topic's partitions (every gateway must use the same number). */
  routes: number;
  leaseMs: number;
}

const RETRY_MS = 500;

export class GatewayRoute {
  private claim: RouteClaim | undefined;
  private stopped = false;

  constructor(
    private readonly store: MailboxStore,
    private readonly settings: RouteSettings,
    private readonly logger: Logger,
  ) {}

  /** This gateway as sessions are registered; undefined until the first claim succeeded. */
  get ref(): GatewayRef | undefined {
    return this.claim === undefined ? undefined : { id: this.settings.gatewayId, route: this.claim.route };
  }

  /** The route when this gateway alone consumes it, else -1 (then nothing skips the bus). */
  get localRoute(): number {
    return this.claim?.exclusive === true ? this.claim.route : -1;
  }

  /** Claims a route, retrying while the store is unreachable; resolves with it (or undefined once stopped). */
  async claimed(): Promise<RouteClaim | undefined> {
    while (this.claim === undefined && !this.stopped) {
      try {
        await this.renew();
      } catch (err) {
        this.logger.warn({ err }, 'could not claim a route yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
    return this.claim;
  }

  /** Renews the lease (about every PRESENCE_RENEW_MS); the route itself never changes. */
  async renew(): Promise<void> {
    const { gatewayId, routes, leaseMs } = this.settings;
    const before = this.claim;
    const claim = await this.store.claimRoute(gatewayId, routes, leaseMs, before?.route);
    this.claim = claim;
    if (before === undefined || before.exclusive !== claim.exclusive) {
      const log = claim.exclusive ? this.logger.info.bind(this.logger) : this.logger.warn.bind(this.logger);
      log(
        { route: claim.route, exclusive: claim.exclusive },
        claim.exclusive
          ? 'route claimed'
          : 'route shared with another gateway: every live message goes through the bus (raise KAFKA_PARTITIONS)',
      );
    }
  }

  stop(): void {
    this.stopped = true;
  }
}
