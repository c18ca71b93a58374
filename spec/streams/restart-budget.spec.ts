import { describe, expect, it } from '@jest/globals';
import { KrakenRateBudget, clientRateBudget } from '../../src/kraken/budget';

// Starter: REST 15 units, 0.33 a second; trading 60 a pair, 1 a second.
describe('rate budget seeded at start', () => {
  it('with nothing journaled starts full: REST and every pair\'s trading counter, the latter full as of the start', () => {
    const budget = clientRateBudget('starter');
    budget.seed(null, 1_000);
    expect(budget.level(1_000).rest).toBe(15);
    // A pair first used 10 s later finds its counter full at the start and decayed since: 50.
    expect(budget.waitMs({ rest: 0, trading: { pair: 'XXBTZUSD', units: 1 } }, 11_000)).toBe(0);
    budget.record({ rest: 0, trading: { pair: 'XXBTZUSD', units: 1 } }, 11_000);
    expect(budget.level(11_000).trading.get('XXBTZUSD')).toBeCloseTo(51, 6);
    // The REST call waits until 2 units have decayed (full + 1 must fit under the cap less 1 of headroom).
    expect(budget.waitMs({ rest: 1 }, 1_000)).toBe(Math.ceil(2 / 0.00033));
  });

  it('from a record: its levels decayed from when they were read; never lowers what the model holds', () => {
    const budget = new KrakenRateBudget('starter');
    budget.seed({ at: 0, rest: 10, trading: [{ pair: 'XXBTZUSD', units: 30 }] }, 3_000);
    expect(budget.level(3_000).rest).toBeCloseTo(10 - 0.99, 6);
    expect(budget.level(3_000).trading.get('XXBTZUSD')).toBeCloseTo(27, 6);
    budget.record({ rest: 14 }, 4_000);
    const before = budget.level(4_000).rest;
    budget.seed({ at: 4_000, rest: 2, trading: [] }, 4_000);
    expect(budget.level(4_000).rest).toBe(before);
  });

  it('reads back what it seeded: counters() is the record a later start takes', () => {
    const budget = new KrakenRateBudget('starter');
    budget.record({ rest: 4, trading: { pair: 'XETHZUSD', units: 7 } }, 0);
    const record = budget.counters(0);
    expect(record).toEqual({ at: 0, rest: 4, trading: [{ pair: 'XETHZUSD', units: 7 }] });
    const next = new KrakenRateBudget('starter');
    next.seed(record, 0);
    expect(next.counters(0)).toEqual(record);
    expect(new KrakenRateBudget('unlimited').counters(0)).toEqual({ at: 0, rest: null, trading: [] });
  });
});
