/**
 * A small seeded pseudo-random source (mulberry32). The paper exchange draws prices, ids and faults from
 * separate streams derived from one seed, so the price path does not change when a test places one more order.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A child stream for one purpose, independent of how much the parent has been used. */
  static derive(seed: number, purpose: string): SeededRandom {
    let h = (seed ^ 0x9e3779b9) >>> 0;
    for (let i = 0; i < purpose.length; i++) h = Math.imul(h ^ purpose.charCodeAt(i), 0x01000193) >>> 0;
    return new SeededRandom(h);
  }
}
