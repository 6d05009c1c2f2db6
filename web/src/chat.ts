/**
 * One signed-in session: the SDK client wired to the view. The SDK reconnects, re-sends
 * unanswered sends with their cid and acknowledges what the handler has shown; this file only
 * shows what happens (statuses, presence, the reconnecting banner).
 */
import { connect, PostboxError, type PostboxClient, type TokenSource } from '@postbox/client';
import { Defaults, UserId } from '@postbox/protocol';
import type { ChatView } from './view';

/** How often the peer's presence is asked while a session is open. */
export const PRESENCE_POLL_MS = 3000;

/** The WebSocket endpoint beside the page: nginx serves both (ws:// or wss:// to match the page). */
export function socketUrl(page: Location): string {
  const url = new URL('/ws', page.href);
  url.protocol = page.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** Which rule of the protocol `id` breaks, as the protocol words it; undefined when it is valid. */
export function userIdProblem(id: string): string | undefined {
  const parsed = UserId.safeParse(id);
  return parsed.success ? undefined : (parsed.error.issues[0]?.message ?? 'not a valid user id');
}

export function validUserId(id: string): boolean {
  return userIdProblem(id) === undefined;
}

const utf8Bytes = (text: string): number => new TextEncoder().encode(text).length;
const count = (n: number): string => n.toLocaleString('en');

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
      // Neither the old gateway nor the peer's last presence is true any more.
      this.view.reconnecting(this.user, this.peer);
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
    const problem = this.peer === '' ? undefined : userIdProblem(this.peer);
    if (problem !== undefined) this.view.setPresenceProblem(this.peer, problem);
    else if (this.client.welcome === undefined && this.peer !== '')
      this.view.setPresence(this.peer, 'reconnecting');
    else this.view.setPresence(this.peer, 'unknown');
    void this.pollPresence();
  }

  /**
   * Shows the message at once as `sending`, then `sent`/`queued` on `accepted`. Returns false
   * when it is refused here (no valid peer, over the server's size limit): nothing was sent and
   * the text should stay where it is.
   */
  send(body: string): boolean {
    const peerProblem = this.peer === '' ? 'choose who to chat with first' : userIdProblem(this.peer);
    if (peerProblem !== undefined) {
      this.view.setComposeError(`Not sent: ${peerProblem}.`);
      return false;
    }
    // The server's limit from its `welcome` (the protocol's default before the first one).
    const maxBytes = this.client.welcome?.maxBytes ?? Defaults.maxBytes;
    const bytes = utf8Bytes(body);
    if (bytes > maxBytes) {
      this.view.setComposeError(
        `Not sent: the message is ${count(bytes)} bytes, the limit is ${count(maxBytes)} bytes (UTF-8). Shorten it and send again.`,
      );
      return false;
    }
    this.view.setComposeError('');
    const item = this.view.addOutgoing(this.user, this.peer, body);
    this.client.send(this.peer, body).then(
      (accepted) => this.view.accepted(item, accepted),
      (error: unknown) => {
        this.view.failed(
          item,
          error instanceof PostboxError ? `${error.code}: ${error.message}` : String(error),
        );
        // Refused after it left the box: give the text back unless something new was typed.
        this.view.restoreDraft(body);
      },
    );
    return true;
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
      // The peer may have changed, or the connection dropped, while the answer was on its way.
      if (peer !== this.peer || this.client.welcome === undefined) return;
      this.view.setPresence(peer, online[peer] === true ? 'online' : 'offline');
    } catch {
      if (peer !== this.peer) return;
      this.view.setPresence(peer, this.client.welcome === undefined ? 'reconnecting' : 'unknown');
    }
  }
}
