/**
 * Test control over the WebSocket side of the paper exchange, next to the REST faults (`FaultControl`):
 * what a client of Kraken's WS v2 sees go wrong.
 */
export interface WsFaultControl {
  /**
   * Closes every open socket now: abruptly (no close frame, the client sees 1006) by default, or with a close
   * `code` (1008 is Kraken's policy violation, which a client must treat as terminal).
   */
  drop(code?: number): void;
  /** Every open socket stops sending (no heartbeats, no answers, no executions) but stays open and keeps reading. */
  stall(): void;
  /** The next `count` `executions` messages (on whichever socket sends them) skip a sequence number. */
  skipSequence(count?: number): void;
  /** Every frame the server sends from now on is held this long (exchange ms) first; 0 ends it. Order is kept. */
  setDelay(ms: number): void;
  /** The next `count` uses of a token (subscribe, add_order, cancel_order) are answered `EAPI:Invalid token`. */
  refuseToken(count?: number): void;
  /** Ends the delay and forgets queued skips and refusals (a stalled socket stays stalled until it is dropped). */
  clear(): void;
}

/** The plan the WS server reads; the control's methods that act on open sockets call back into the server. */
export class WsFaultPlan {
  delayMs = 0;
  private skips = 0;
  private refusals = 0;

  skipSequence(count = 1): void {
    this.skips += count;
  }

  refuseToken(count = 1): void {
    this.refusals += count;
  }

  /** How many numbers the next executions message skips (0 or 1), consuming one queued skip. */
  takeSkip(): number {
    if (this.skips === 0) return 0;
    this.skips -= 1;
    return 1;
  }

  takeRefusal(): boolean {
    if (this.refusals === 0) return false;
    this.refusals -= 1;
    return true;
  }

  setDelay(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('delay must be >= 0');
    this.delayMs = ms;
  }

  clear(): void {
    this.delayMs = 0;
    this.skips = 0;
    this.refusals = 0;
  }
}
