import { describe, expect, it } from '@jest/globals';
import {
  KrakenRateBudget,
  TIERS,
  clientRateBudget,
  cancelPenaltyUnits,
  krakenCostModel,
  restCostOf,
} from '../../src/kraken/budget';
import { type RateCost } from '../../src/model/budget';

const restCall: RateCost = { rest: 1 };
const historyCall: RateCost = { rest: 2 };
const addOrder = (pair: string): RateCost => ({ rest: 0, trading: { pair, units: 1 } });
const cancel = (pair: string, units: number): RateCost => ({ rest: 0, trading: { pair, units } });

const chargeTimes = (budget: KrakenRateBudget, cost: RateCost, times: number, now: number): void => {
  for (let i = 0; i < times; i++) budget.record(cost, now);
};

describe('KrakenRateBudget — REST counter', () => {
  it('starter: 15 calls fit at t=0, the 16th waits ceil(1 / 0.33 s) = 3031 ms', () => {
    const budget = new KrakenRateBudget('starter');
    for (let i = 0; i < 15; i++) {
      expect(budget.waitMs(restCall, 0)).toBe(0);
      expect(budget.tryCharge(restCall, 0)).toBe(true);
    }
    expect(budget.waitMs(restCall, 0)).toBe(3031);
    expect(budget.tryCharge(restCall, 3030)).toBe(false);
    expect(budget.tryCharge(restCall, 3031)).toBe(true);
  });

  it('intermediate: 20 calls, then 2000 ms per call; pro: 20 calls, then 1000 ms', () => {
    const intermediate = new KrakenRateBudget('intermediate');
    chargeTimes(intermediate, restCall, 20, 0);
    expect(intermediate.waitMs(restCall, 0)).toBe(2000);
    expect(intermediate.waitMs(restCall, 500)).toBe(1500);

    const pro = new KrakenRateBudget('pro');
    chargeTimes(pro, restCall, 20, 0);
    expect(pro.waitMs(restCall, 0)).toBe(1000);
    expect(pro.waitMs(restCall, 999)).toBe(1);
    expect(pro.waitMs(restCall, 1000)).toBe(0);
  });

  it('decays linearly and continuously: 15 - 0.33 × 10 s = 11.7, so a cost of 4 waits 0.7 / 0.33 s = 2122 ms', () => {
    const budget = new KrakenRateBudget('starter');
    chargeTimes(budget, restCall, 15, 0);
    expect(budget.level(1000).rest).toBeCloseTo(14.67, 10);
    expect(budget.level(10_000).rest).toBeCloseTo(11.7, 10);
    expect(budget.waitMs({ rest: 4 }, 10_000)).toBe(2122);
    expect(budget.level(60_000).rest).toBe(0);
  });

  it('charges history calls 2 units: at level 14 a Ledgers call waits for one unit to decay', () => {
    const budget = new KrakenRateBudget('starter');
    chargeTimes(budget, restCall, 14, 0);
    expect(budget.waitMs(restCall, 0)).toBe(0);
    expect(budget.waitMs(historyCall, 0)).toBe(3031);
  });

  it('waitMs is exact: the call fits at now + waitMs and not one millisecond earlier', () => {
    for (const tier of ['starter', 'intermediate', 'pro'] as const) {
      const budget = new KrakenRateBudget(tier);
      let now = 0;
      for (let i = 0; i < 60; i++) {
        const cost = i % 3 === 0 ? historyCall : restCall;
        const wait = budget.waitMs(cost, now);
        if (wait > 0) {
          expect(budget.waitMs(cost, now + wait - 1)).toBeGreaterThan(0);
          expect(budget.waitMs(cost, now + wait)).toBe(0);
        }
        now += wait + (i % 7) * 13;
        expect(budget.tryCharge(cost, now)).toBe(true);
        expect(budget.level(now).rest).toBeLessThanOrEqual(TIERS[tier].rest!.max + 1e-9);
      }
    }
  });

  it('a clock that steps back neither refills nor drains the counter', () => {
    const budget = new KrakenRateBudget('starter');
    chargeTimes(budget, restCall, 15, 10_000);
    expect(budget.waitMs(restCall, 5_000)).toBe(3031);
    expect(budget.level(5_000).rest).toBe(15);
  });

  it('does not charge the REST counter for calls without a REST cost', () => {
    const budget = new KrakenRateBudget('starter');
    chargeTimes(budget, addOrder('XXBTZUSD'), 40, 0);
    expect(budget.level(0).rest).toBe(0);
    expect(budget.waitMs(restCall, 0)).toBe(0);
  });
});

describe('KrakenRateBudget — client headroom', () => {
  it('a client budget with one unit of headroom fits 14 REST calls at starter, the 15th waits 3031 ms', () => {
    const budget = clientRateBudget('starter');
    chargeTimes(budget, restCall, 14, 0);
    expect(budget.waitMs(restCall, 0)).toBe(3031);
  });

  it('keeps the headroom on trading counters too, and a snap still fills to the real cap', () => {
    const budget = new KrakenRateBudget('starter', { headroomUnits: 1 });
    chargeTimes(budget, addOrder('XXBTZUSD'), 59, 0);
    expect(budget.waitMs(addOrder('XXBTZUSD'), 0)).toBe(1000);
    budget.snap(restCall, 0);
    expect(budget.level(0).rest).toBe(15);
    expect(budget.waitMs(restCall, 0)).toBe(6061);
  });

  it('refuses a negative headroom', () => {
    expect(() => new KrakenRateBudget('starter', { headroomUnits: -1 })).toThrow(RangeError);
  });
});

describe('KrakenRateBudget — per-pair trading counter', () => {
  it('starter: 60 AddOrders on a pair fit, the 61st waits 1000 ms; another pair is unaffected', () => {
    const budget = new KrakenRateBudget('starter');
    for (let i = 0; i < 60; i++) expect(budget.tryCharge(addOrder('XXBTZUSD'), 0)).toBe(true);
    expect(budget.waitMs(addOrder('XXBTZUSD'), 0)).toBe(1000);
    expect(budget.waitMs(addOrder('XETHZUSD'), 0)).toBe(0);
    expect(budget.level(0).trading.get('XXBTZUSD')).toBe(60);
    expect(budget.level(0).trading.has('XETHZUSD')).toBe(false);
  });

  it('a cancel of a fresh order (+8) at a full counter waits 8 s at starter', () => {
    const budget = new KrakenRateBudget('starter');
    chargeTimes(budget, addOrder('XXBTZUSD'), 60, 0);
    expect(budget.waitMs(cancel('XXBTZUSD', cancelPenaltyUnits(1_000)), 0)).toBe(8000);
    expect(budget.waitMs(cancel('XXBTZUSD', 0), 0)).toBe(0);
  });

  it('intermediate 125 / 2.34 per s and pro 180 / 3.75 per s: one more unit waits 428 ms and 267 ms', () => {
    const intermediate = new KrakenRateBudget('intermediate');
    chargeTimes(intermediate, addOrder('SOLUSD'), 125, 0);
    expect(intermediate.waitMs(addOrder('SOLUSD'), 0)).toBe(428); // 1000 / 2.34 = 427.35
    const pro = new KrakenRateBudget('pro');
    chargeTimes(pro, addOrder('SOLUSD'), 180, 0);
    expect(pro.waitMs(addOrder('SOLUSD'), 0)).toBe(267); // 1000 / 3.75 = 266.67
  });

  it('waits for the slower of both counters when a cost touches both', () => {
    const budget = new KrakenRateBudget('starter');
    chargeTimes(budget, restCall, 15, 0);
    chargeTimes(budget, addOrder('XXBTZUSD'), 60, 0);
    const both: RateCost = { rest: 1, trading: { pair: 'XXBTZUSD', units: 5 } };
    expect(budget.waitMs(both, 0)).toBe(5000);
  });
});

describe('KrakenRateBudget — snap and unlimited', () => {
  it('snap sets the touched counters to their cap, so the next call waits a full unit', () => {
    const budget = new KrakenRateBudget('starter');
    budget.record(restCall, 0);
    budget.snap(restCall, 1_000);
    expect(budget.level(1_000).rest).toBe(15);
    expect(budget.waitMs(restCall, 1_000)).toBe(3031);
    expect(budget.level(1_000).trading.size).toBe(0);
  });

  it('snap of a trading cost fills only that pair', () => {
    const budget = new KrakenRateBudget('starter');
    budget.snap(addOrder('XXBTZUSD'), 0);
    expect(budget.level(0).trading.get('XXBTZUSD')).toBe(60);
    expect(budget.level(0).rest).toBe(0);
    expect(budget.waitMs(addOrder('XXBTZUSD'), 0)).toBe(1000);
    expect(budget.waitMs(addOrder('XETHZUSD'), 0)).toBe(0);
  });

  it('snap never lowers a counter that is already above its cap', () => {
    const budget = new KrakenRateBudget('starter');
    chargeTimes(budget, restCall, 17, 0);
    budget.snap(restCall, 0);
    expect(budget.level(0).rest).toBe(17);
  });

  it('tryCharge charges nothing when the call does not fit', () => {
    const budget = new KrakenRateBudget('starter');
    chargeTimes(budget, restCall, 15, 0);
    expect(budget.tryCharge(restCall, 0)).toBe(false);
    expect(budget.level(0).rest).toBe(15);
  });

  it('unlimited never limits', () => {
    const budget = new KrakenRateBudget('unlimited');
    chargeTimes(budget, restCall, 1000, 0);
    chargeTimes(budget, addOrder('XXBTZUSD'), 1000, 0);
    budget.snap({ rest: 1, trading: { pair: 'XXBTZUSD', units: 1 } }, 0);
    expect(budget.waitMs({ rest: 2, trading: { pair: 'XXBTZUSD', units: 8 } }, 0)).toBe(0);
    expect(budget.waitMs({ rest: 0, public: 50 }, 0)).toBe(0);
    expect(budget.level(0)).toEqual({ rest: 0, trading: new Map(), public: 0 });
  });

  it('public calls: a counter of their own (per IP, burst 5, one a second), never the REST counter', () => {
    const exchange = new KrakenRateBudget('starter');
    for (let i = 0; i < 5; i++) expect(exchange.tryCharge({ rest: 0, public: 1 }, 0)).toBe(true);
    expect(exchange.tryCharge({ rest: 0, public: 1 }, 0)).toBe(false);
    expect(exchange.waitMs({ rest: 0, public: 1 }, 0)).toBe(1000);
    expect(exchange.waitMs({ rest: 1 }, 0)).toBe(0);
    expect(exchange.level(0).rest).toBe(0);
    // The client keeps one unit of headroom: a burst of 4, then one a second.
    const client = clientRateBudget('starter');
    for (let i = 0; i < 4; i++) client.record({ rest: 0, public: 1 }, 0);
    expect(client.waitMs({ rest: 0, public: 1 }, 0)).toBe(1000);
    client.snap({ rest: 0, public: 1 }, 0);
    expect(client.level(0)).toEqual({ rest: 0, trading: new Map(), public: 5 });
  });
});

describe('Kraken cost tables', () => {
  it.each([
    [0, 8], [4_999, 8], [5_000, 6], [9_999, 6], [10_000, 5], [14_999, 5], [15_000, 4], [44_999, 4],
    [45_000, 2], [89_999, 2], [90_000, 1], [299_999, 1], [300_000, 0], [3_600_000, 0],
  ])('cancel penalty for an order %i ms old is %i', (age, units) => {
    expect(cancelPenaltyUnits(age)).toBe(units);
  });

  it.each([
    ['AddOrder', 0], ['CancelOrder', 0], ['Ledgers', 2], ['QueryLedgers', 2], ['TradesHistory', 2],
    ['OpenOrders', 1], ['ClosedOrders', 1], ['QueryOrders', 1], ['Balance', 1], ['BalanceEx', 1],
    ['CancelAll', 1], ['Ticker', 0], ['AssetPairs', 0], ['Time', 0], ['SystemStatus', 0], ['Assets', 0],
  ])('REST cost of %s is %i', (endpoint, units) => {
    expect(restCostOf(endpoint)).toBe(units);
  });

  it('maps port calls to their costs', () => {
    expect(krakenCostModel({ kind: 'placeOrder', pair: 'XXBTZUSD' })).toEqual({ rest: 0, trading: { pair: 'XXBTZUSD', units: 1 } });
    expect(krakenCostModel({ kind: 'cancelOrder', pair: 'XXBTZUSD', orderAgeMs: 12_000 })).toEqual({
      rest: 0,
      trading: { pair: 'XXBTZUSD', units: 5 },
    });
    expect(krakenCostModel({ kind: 'queryOrders' })).toEqual({ rest: 1 });
    expect(krakenCostModel({ kind: 'openOrders' })).toEqual({ rest: 1 });
    expect(krakenCostModel({ kind: 'closedOrders' })).toEqual({ rest: 1 });
    expect(krakenCostModel({ kind: 'ticker' })).toEqual({ rest: 0, public: 1 });
    expect(krakenCostModel({ kind: 'pairs' })).toEqual({ rest: 0, public: 1 });
  });
});
