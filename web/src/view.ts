/**
 * The page's DOM: plain elements from index.html, text set with textContent only (bodies are
 * untrusted). Messages are keyed by id so a redelivery or the echo of a message to oneself is
 * shown once.
 */
import type { Accepted, Message } from '@postbox/client';

export type Presence = 'online' | 'offline' | 'unknown' | 'reconnecting';

/** A failed message shows at most this many characters of its body (a refused one can be 64 KB+). */
export const FAILED_PREVIEW_CHARS = 280;
type Status = 'sending' | 'sent' | 'queued' | 'failed';

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`index.html has no #${id} of the expected kind`);
  return found;
}

const timeOf = (ts: number): string =>
  new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

export class ChatView {
  readonly signInForm = element('sign-in', HTMLFormElement);
  readonly userInput = element('user', HTMLInputElement);
  readonly signOutButton = element('sign-out', HTMLButtonElement);
  readonly peerInput = element('peer', HTMLInputElement);
  readonly composeForm = element('compose', HTMLFormElement);
  readonly bodyInput = element('body', HTMLTextAreaElement);
  private readonly signInError = element('sign-in-error', HTMLParagraphElement);
  private readonly composeError = element('compose-error', HTMLParagraphElement);
  private readonly whoami = element('whoami', HTMLParagraphElement);
  private readonly chat = element('chat', HTMLElement);
  private readonly banner = element('banner', HTMLDivElement);
  private readonly presence = element('presence', HTMLSpanElement);
  private readonly list = element('messages', HTMLOListElement);
  /** Every message on screen by id: the dedupe. */
  private readonly byId = new Map<string, HTMLLIElement>();

  showSignIn(error = ''): void {
    this.chat.hidden = true;
    this.signOutButton.hidden = true;
    this.whoami.hidden = true;
    this.signInForm.hidden = false;
    this.signInError.textContent = error;
    this.list.replaceChildren();
    this.byId.clear();
    this.userInput.focus();
  }

  showChat(user: string): void {
    this.signInForm.hidden = true;
    this.signInError.textContent = '';
    this.setWhoami(`Signed in as ${user} · connecting…`);
    delete this.whoami.dataset.gateway;
    this.whoami.hidden = false;
    this.signOutButton.hidden = false;
    this.chat.hidden = false;
    this.peerInput.focus();
  }

  /** A session is open; which gateway serves it is shown because failover is the point of a demo. */
  connected(user: string, gateway: string): void {
    this.setWhoami(`Signed in as ${user} · gateway ${gateway}`);
    this.whoami.dataset.gateway = gateway;
  }

  /** The connection dropped: no gateway serves this page until the next `welcome`. */
  reconnecting(user: string, peer: string): void {
    this.setWhoami(`Signed in as ${user} · reconnecting…`);
    delete this.whoami.dataset.gateway;
    if (peer !== '' && this.presence.dataset.state !== 'invalid') this.setPresence(peer, 'reconnecting');
  }

  showBanner(text: string): void {
    this.banner.textContent = text;
    this.banner.hidden = false;
  }

  hideBanner(): void {
    this.banner.hidden = true;
    this.banner.textContent = '';
  }

  setComposeError(text: string): void {
    this.composeError.textContent = text;
  }

  setPresence(peer: string, state: Presence): void {
    this.presence.dataset.state = peer === '' ? 'unknown' : state;
    if (peer === '') this.presence.textContent = 'no peer chosen';
    else if (state === 'reconnecting') this.presence.textContent = `${peer}: reconnecting…`;
    else this.presence.textContent = `${peer} is ${state}`;
  }

  /** The peer field holds no valid user id: say which rule it breaks. */
  setPresenceProblem(peer: string, problem: string): void {
    this.presence.dataset.state = 'invalid';
    this.presence.textContent = `"${peer}" is not a valid user id: ${problem}`;
  }

  /** Puts a refused message's text back in the compose box, unless the user typed something new. */
  restoreDraft(body: string): void {
    if (this.bodyInput.value === '') this.bodyInput.value = body;
  }

  /** A message this page sends, shown at once as `sending`; returns its element for the outcome. */
  addOutgoing(from: string, to: string, body: string): HTMLLIElement {
    const item = this.item(true, `${from} → ${to}`, body);
    this.setStatus(item, 'sending');
    return item;
  }

  accepted(item: HTMLLIElement, accepted: Accepted): void {
    // A message to oneself also arrives as a `message`, possibly before its `accepted`: one copy.
    const echo = this.byId.get(accepted.id);
    if (echo !== undefined) {
      echo.remove();
      item.dataset.delivered = 'true';
    }
    this.byId.set(accepted.id, item);
    item.dataset.id = accepted.id;
    const meta = item.querySelector('.meta');
    if (meta !== null) meta.textContent += ` · ${timeOf(accepted.ts)}`;
    this.setStatus(item, accepted.status);
  }

  failed(item: HTMLLIElement, reason: string): void {
    this.setStatus(item, 'failed', `not sent: ${reason}`);
    const body = item.querySelector('.body');
    const text = body?.textContent ?? '';
    if (body !== null && text.length > FAILED_PREVIEW_CHARS) {
      body.textContent = `${text.slice(0, FAILED_PREVIEW_CHARS)}… (${text.length.toLocaleString('en')} characters)`;
      item.dataset.clipped = 'true';
    }
  }

  /** A delivered message; false when its id is already on screen. */
  addIncoming(message: Message): boolean {
    const shown = this.byId.get(message.id);
    if (shown !== undefined) {
      // A redelivery, or the echo of our own message to ourselves.
      shown.dataset.delivered = 'true';
      return false;
    }
    const item = this.item(false, `${message.from} → ${message.to} · ${timeOf(message.ts)}`, message.body);
    item.dataset.id = message.id;
    item.dataset.from = message.from;
    this.byId.set(message.id, item);
    return true;
  }

  private item(mine: boolean, meta: string, body: string): HTMLLIElement {
    const item = document.createElement('li');
    item.className = mine ? 'message mine' : 'message';
    const metaLine = document.createElement('span');
    metaLine.className = 'meta';
    metaLine.textContent = meta;
    const text = document.createElement('p');
    text.className = 'body';
    text.textContent = body;
    item.append(metaLine, text);
    this.list.append(item);
    item.scrollIntoView({ block: 'end' });
    return item;
  }

  private setWhoami(text: string): void {
    this.whoami.textContent = text;
    this.whoami.title = text;
  }

  private setStatus(item: HTMLLIElement, status: Status, text: string = status): void {
    item.dataset.status = status;
    let label = item.querySelector<HTMLSpanElement>('.status');
    if (label === null) {
      label = document.createElement('span');
      label.className = 'status';
      item.append(label);
    }
    label.textContent = status === 'sending' ? 'sending…' : text;
  }
}
