/**
 * One signed-in session: the SDK client wired to the view. The SDK reconnects, re-sends
 * unanswered sends with their cid and acknowledges what the handler has shown; this file only
 * shows what happens (statuses, presence, the reconnecting banner).
 */
import { connect, PostboxError, type PostboxClient, type TokenSource } from '@postbox/client';
import { USER_ID_PATTERN } from '@postbox/protocol';
import type { ChatView } from './view';

/** How often the peer's presence is asked while a session is open. */
export const PRESENCE_POLL_MS = 3000;

/** The WebSocket endpoint beside the page: nginx serves both (ws:// or wss:// to match the page). */
export function socketUrl(page: Location): string {
  const url = new URL('/ws', page.href);
  url.protocol = page.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

export function validUserId(id: string): boolean {
  return USER_ID_PATTERN.test(id);
}

export class ChatSession {
  private readonly client: PostboxClient;
  private readonly presenceTimer: ReturnType<typeof setInterval>;
  private peer = '';
  private lastError = '';
  private closing = false;

  constructor(
    readonly user: string,
    token: TokenSource,
    private readonly view: ChatView,
    /** The session ended on its own (refused token, gave up): back to sign-in with this reason. */
    private readonly ended: (reason: string) => void,
  ) {
    this.client = connect(socketUrl(window.location), token);
    this.client.on('open', (welcome) => {
      this.view.hideBanner();
      this.view.connected(welcome.user, welcome.gateway);
      void this.pollPresence();
    });
    this.client.on('reconnecting', ({ attempt }) => {
      this.view.showBanner(`Connection lost: reconnecting (attempt ${attempt})…`);
    });
    this.client.on('error', (error) => {
      this.lastError = error.message;
    });
    this.client.on('close', (event) => {
      if (event.reconnect || this.closing) return;
      this.stopPolling();
      this.ended(this.lastError || `disconnected (${event.reason || event.code})`);
    });
    // Returning acknowledges the message: it is on screen.
    this.client.onMessage((message) => void this.view.addIncoming(message));
    this.presenceTimer = setInterval(() => void this.pollPresence(), PRESENCE_POLL_MS);
  }

  setPeer(peer: string): void {
    this.peer = peer.trim();
    this.view.setPresence(this.peer, 'unknown');
    void this.pollPresence();
  }

  /** Shows the message at once as `sending`, then `sent`/`queued` on `accepted`. */
  send(body: string): void {
    if (!validUserId(this.peer)) {
      this.view.setComposeError('Choose who to chat with first (a valid user id).');
      return;
    }
    this.view.setComposeError('');
    const item = this.view.addOutgoing(this.user, this.peer, body);
    this.client.send(this.peer, body).then(
      (accepted) => this.view.accepted(item, accepted),
      (error: unknown) =>
        this.view.failed(
          item,
          error instanceof PostboxError ? `${error.code}: ${error.message}` : String(error),
        ),
    );
  }

  async close(): Promise<void> {
    this.closing = true;
    this.stopPolling();
    await this.client.close();
  }

  private stopPolling(): void {
    clearInterval(this.presenceTimer);
  }

  private async pollPresence(): Promise<void> {
    const peer = this.peer;
    if (!validUserId(peer) || this.client.welcome === undefined) return;
    try {
      const online = await this.client.presence([peer]);
      // The peer may have changed while the answer was on its way.
      if (peer === this.peer) this.view.setPresence(peer, online[peer] === true ? 'online' : 'offline');
    } catch {
      if (peer === this.peer) this.view.setPresence(peer, 'unknown');
    }
  }
}
