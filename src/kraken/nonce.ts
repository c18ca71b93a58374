/**
 * A nonce source for one API key: strictly increasing, also for calls within the same millisecond and when the
 * wall clock steps back. Values are milliseconds since the epoch scaled by 1000 (microsecond resolution), so a
 * key that was used with millisecond nonces before keeps working (the scale only grows).
 */
export class NonceSource {
  private last = 0n;

  constructor(private readonly clock: () => number = Date.now) {}

  next(): bigint {
    const candidate = BigInt(Math.floor(this.clock())) * 1000n;
    this.last = candidate > this.last ? candidate : this.last + 1n;
    return this.last;
  }
}
