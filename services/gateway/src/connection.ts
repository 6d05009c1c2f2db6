/**
 * What the gateway needs of a WebSocket. uWebSockets.js' WebSocket satisfies it as it is (no
 * wrapper object per connection); tests pass plain fakes.
 */
export interface Connection {
  /** 1 sent, 0 sent with backpressure building, 2 dropped (uWS semantics). */
  send(text: string): number;
  getBufferedAmount(): number;
  /** Graceful close with a code and a short reason. */
  end(code: number, reason: string): void;
  /**
   * Runs `callback` with the socket corked: its sends are packed into one write when it returns
   * (inside a uWS callback the socket already is, and `callback` simply runs).
   */
  cork(callback: () => void): void;
}
