/**
 * Presence queries waiting for their answer. Answers carry no id, but one connection answers in
 * order (docs/protocol.md), so they are matched first in, first out. A query that timed out keeps its
 * place until its answer arrives or the connection ends, so later answers still match theirs.
 */
import { parseClientFrame, type PresenceAnswerFrame, type PresenceQueryFrame } from '@postbox/protocol';
import { PostboxError } from './errors';

interface PendingQuery {
  frame: PresenceQueryFrame;
  resolve: (users: Record<string, boolean>) => void;
  reject: (error: PostboxError) => void;
  abandoned: boolean;
  timeout: ReturnType<typeof setTimeout>;
}

export class PresenceQueries {
  private queue: PendingQuery[] = [];

  constructor(
    private readonly timeoutMs: number,
    private readonly write: (frame: PresenceQueryFrame) => boolean,
  ) {}

  ask(users: string[]): Promise<Record<string, boolean>> {
    const frame: PresenceQueryFrame = { type: 'presence', users };
    // A refused query is answered by an `error` without a cid, which would shift every later
    // answer onto the wrong query: check it here instead.
    const checked = parseClientFrame(JSON.stringify(frame));
    if (!checked.ok) return Promise.reject(new PostboxError(checked.error.code, checked.error.message));
    return new Promise((resolve, reject) => {
      const query: PendingQuery = {
        frame,
        resolve,
        reject,
        abandoned: false,
        timeout: setTimeout(() => {
          query.abandoned = true;
          reject(new PostboxError('timeout', 'no presence answer in time'));
        }, this.timeoutMs),
      };
      this.queue.push(query);
      this.write(frame);
    });
  }

  answered(frame: PresenceAnswerFrame): void {
    const query = this.queue.shift();
    if (query === undefined || query.abandoned) return;
    clearTimeout(query.timeout);
    query.resolve(frame.users);
  }

  /** After `welcome`: the old connection's answers can no longer come, so ask again. */
  resendAll(): void {
    this.queue = this.queue.filter((query) => !query.abandoned);
    for (const query of this.queue) this.write(query.frame);
  }

  failAll(error: PostboxError): void {
    const queue = this.queue;
    this.queue = [];
    for (const query of queue) {
      clearTimeout(query.timeout);
      if (!query.abandoned) query.reject(error);
    }
  }
}
