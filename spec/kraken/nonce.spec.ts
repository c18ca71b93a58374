import { describe, expect, it } from '@jest/globals';
import { NonceSource } from '../../src/kraken/nonce';

describe('NonceSource', () => {
  it('increases strictly within the same millisecond', () => {
    const source = new NonceSource(() => 1_700_000_000_000);
    const values = Array.from({ length: 1000 }, () => source.next());
    for (let i = 1; i < values.length; i++) expect(values[i]! > values[i - 1]!).toBe(true);
  });

  it('keeps increasing when the clock steps back', () => {
    let now = 1_700_000_000_000;
    const source = new NonceSource(() => now);
    const before = source.next();
    now -= 60_000;
    const after = source.next();
    expect(after > before).toBe(true);
    expect(after - before).toBe(1n);
  });

  it('follows the clock when it moves forward', () => {
    let now = 1_700_000_000_000;
    const source = new NonceSource(() => now);
    source.next();
    now += 5;
    expect(source.next()).toBe(1_700_000_000_005_000n);
  });
});
