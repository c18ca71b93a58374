import { describe, expect, it } from '@jest/globals';
import { type Observable, type SchedulerLike, concatMap, map, merge, toArray } from 'rxjs';
import { KrakenRateBudget } from '../../src/kraken/budget';
import { type RateBudget, type RateCost } from '../../src/model/budget';
import { type Lane, RateGate, rateLimit } from '../../src/operators/rate-limit';
import { ChargeLog, countingScheduler, marbles } from './support';

const REST: RateCost = { rest: 1 };
const placeOn = (pair: string): RateCost => ({ rest: 0, trading: { pair, units: 1 } });

/**
 * Starter tier: REST counter max 15, decay 0.33/s (330 micro-units per ms). Once the counter is at its cap at 0 ms,
 * a unit is free when 15 - 0.00033·t <= 14, i.e. t >= 3030.3 ms: 3031. Each later unit needs about 3030 ms more,
 * from the fractional level left over: 6061, 9091, 12122.
 */
const STARTER_RELEASES = [3031, 6061, 9091, 12122];

describe('RateGate', () => {
  it('grants at once while the budget has room, and charges the cost when it grants', () => {
    const budget = new KrakenRateBudget('starter');
    marbles(({ expectObservable, scheduler }) => {
      const gate = new RateGate(budget, scheduler);
      expectObservable(gate.acquire(REST, 'monitor')).toBe('(v|)', { v: undefined });
    });
    expect(budget.level(0).rest).toBe(1);
  });

  it('releases a starter-tier burst: 15 at once, the 16th after 3031 ms, then one about every 3030 ms', () => {
    marbles(({ expectObservable, scheduler }) => {
      const gate = new RateGate(new KrakenRateBudget('starter'), scheduler);
      const burst = Array.from({ length: 19 }, (_, i) =>
        gate.acquire(REST, 'monitor').pipe(map(() => ({ request: i, at: scheduler.now() }))),
      );
      const expected = [
        ...Array.from({ length: 15 }, (_, i) => ({ request: i, at: 0 })),
        ...STARTER_RELEASES.map((at, i) => ({ request: 15 + i, at })),
      ];
      expectObservable(merge(...burst).pipe(toArray())).toBe('12122ms (r|)', { r: expected });
    });
  });

  it('lets a request through at once when the counter has decayed enough', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const budget = new KrakenRateBudget('starter');
      budget.snapRest(0);
      const gate = new RateGate(budget, scheduler);
      expectObservable(cold('3031ms a').pipe(concatMap(() => gate.acquire(REST, 'monitor')))).toBe('3031ms v', { v: undefined });
    });
  });

  it('holds a request that asks one frame too early until the unit is free', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const budget = new KrakenRateBudget('starter');
      budget.snapRest(0);
      const gate = new RateGate(budget, scheduler);
      expectObservable(cold('3030ms a').pipe(concatMap(() => gate.acquire(REST, 'monitor')))).toBe('3031ms v', { v: undefined });
    });
  });

  it('releases a close request queued after monitor requests first (priority overtaking)', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const budget = new KrakenRateBudget('starter');
      budget.snapRest(0);
      const gate = new RateGate(budget, scheduler);
      const request = (lane: Lane, name: string, after: string): Observable<string> =>
        cold(after).pipe(concatMap(() => gate.acquire(REST, lane).pipe(map(() => name))));
      const result = merge(
        request('monitor', 'm', 'a|'),
        request('monitor', 'n', '-a|'),
        request('protect', 'p', '--a|'),
        request('close', 'c', '10ms a|'),
      );
      expectObservable(result).toBe('3031ms c 3029ms p 3029ms m 3030ms (n|)');
    });
  });

  it('serves requests of one lane in the order they were queued (FIFO)', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const budget = new KrakenRateBudget('starter');
      budget.snapRest(0);
      const gate = new RateGate(budget, scheduler);
      const request = (name: string, after: string): Observable<string> =>
        cold(after).pipe(concatMap(() => gate.acquire(REST, 'place').pipe(map(() => name))));
      expectObservable(merge(request('c', '--a|'), request('a', 'a|'), request('b', '-a|'))).toBe(
        '3031ms a 3029ms b 3029ms (c|)',
      );
    });
  });

  it('does not hold a REST call back behind a placement waiting on its pair trading counter', () => {
    marbles(({ expectObservable, scheduler }) => {
      const budget = new KrakenRateBudget('starter');
      // Starter trading counter: max 60, decay 1 unit/s. Full for XBTUSD only.
      budget.snapTrading('XBTUSD', 0);
      const gate = new RateGate(budget, scheduler);
      const result = merge(
        gate.acquire(placeOn('XBTUSD'), 'place').pipe(map(() => 'x')),
        gate.acquire(REST, 'monitor').pipe(map(() => 'm')),
        gate.acquire(placeOn('ETHUSD'), 'place').pipe(map(() => 'e')),
        gate.acquire(placeOn('XBTUSD'), 'place').pipe(map(() => 'y')),
      );
      expectObservable(result).toBe('(me) 996ms x 999ms (y|)');
    });
  });

  it('makes the next call wait the full refill time after a snap to the cap', () => {
    marbles(({ expectObservable, scheduler }) => {
      const budget = new KrakenRateBudget('starter');
      const gate = new RateGate(budget, scheduler);
      gate.snap(REST);
      expectObservable(gate.acquire(REST, 'monitor')).toBe('3031ms (v|)', { v: undefined });
    });
  });

  it('re-times requests already queued when a snap arrives while they wait', () => {
    marbles(({ expectObservable, scheduler }) => {
      const budget = new KrakenRateBudget('starter');
      budget.snapRest(0);
      const gate = new RateGate(budget, scheduler);
      scheduler.schedule(() => gate.snap(REST), 1000);
      // Without the snap it would go at 3031; the snap at 1000 fills the counter again.
      expectObservable(gate.acquire(REST, 'monitor')).toBe('4031ms (v|)', { v: undefined });
    });
  });

  it('removes a queued request that is unsubscribed and charges nothing for it', () => {
    const budget = new KrakenRateBudget('starter');
    const queuedAt: number[] = [];
    marbles(({ expectObservable, scheduler }) => {
      budget.snapRest(0);
      const gate = new RateGate(budget, scheduler);
      expectObservable(gate.acquire(REST, 'monitor'), '^ 99ms !').toBe('');
      // Queued after the abandoned one: it goes at the first free unit, not the second.
      expectObservable(gate.acquire(REST, 'monitor')).toBe('3031ms (v|)', { v: undefined });
      scheduler.schedule(() => queuedAt.push(gate.queued), 50);
      scheduler.schedule(() => queuedAt.push(gate.queued), 200);
      scheduler.schedule(() => queuedAt.push(gate.queued), 4000);
    });
    expect(queuedAt).toEqual([2, 1, 0]);
    // Only the granted request was charged: at 6061 the counter has room for one more call again.
    expect(budget.waitMs(REST, 6061)).toBe(0);
  });

  it('holds one timer while requests wait and none once the queue is empty', () => {
    const pendingAt: number[] = [];
    marbles(({ expectObservable, scheduler }) => {
      const counting = countingScheduler(scheduler);
      const budget = new KrakenRateBudget('starter');
      budget.snapRest(0);
      const gate = new RateGate(budget, counting.scheduler);
      const three = merge(gate.acquire(REST, 'monitor'), gate.acquire(REST, 'monitor'), gate.acquire(REST, 'place'));
      expectObservable(three.pipe(map(() => scheduler.now()), toArray())).toBe('9091ms (r|)', { r: [3031, 6061, 9091] });
      for (const at of [1, 5000, 9092, 20000]) scheduler.schedule(() => pendingAt.push(counting.pending()), at);
    });
    expect(pendingAt).toEqual([1, 1, 0, 0]);
  });

  it('errors a request whose cost the budget says can never fit, and goes on serving others', () => {
    const never: RateBudget = {
      waitMs: (cost) => (cost.rest > 100 ? Number.POSITIVE_INFINITY : 0),
      record: () => undefined,
      snap: () => undefined,
    };
    marbles(({ expectObservable, scheduler }) => {
      const gate = new RateGate(never, scheduler);
      expectObservable(gate.acquire({ rest: 1000 }, 'place')).toBe('#', undefined, expect.any(RangeError));
      expectObservable(gate.acquire(REST, 'monitor')).toBe('(v|)', { v: undefined });
    });
  });
});

/** A budget that never makes anyone wait and records when each cost was charged. */
describe('RateGate.run (the private-call slot)', () => {
  const exclusive = { exclusive: true } as const;

  it('sends two private calls asked for together one after the other, each charged when it is sent', () => {
    const budget = new ChargeLog();
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const gate = new RateGate(budget, scheduler);
      const a = cold('-----a|');
      const b = cold('-----b|');
      expectObservable(gate.run(REST, 'place', () => a, exclusive)).toBe('-----a|');
      expectObservable(gate.run(REST, 'place', () => b, exclusive)).toBe('-----------b|');
      expectSubscriptions(a.subscriptions).toBe('^-----!');
      // b is sent only when a has ended (its answer and its completion at 6 ms).
      expectSubscriptions(b.subscriptions).toBe('------^-----!');
    });
    expect(budget.charges.map((charge) => charge.at)).toEqual([0, 6]);
  });

  it('gives the slot to the higher lane first when it frees, FIFO within a lane', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const gate = new RateGate(new ChargeLog(), scheduler);
      const call = (lane: Lane, name: string, at: string): Observable<string> =>
        cold(at).pipe(concatMap(() => gate.run(REST, lane, () => cold('---x|', { x: name }), exclusive)));
      const result = merge(
        call('monitor', 'a', 'a|'),
        call('monitor', 'm', '-a|'),
        call('place', 'p', '--a|'),
        call('close', 'c', '---a|'),
        call('place', 'q', '---a|'),
      );
      // a holds the slot 0..4 (answer at 3, end at 4); then close, monitor, place (p before q), 4 ms each.
      expectObservable(result).toBe('---a---c---m---p---q|');
    });
  });

  it('protection first: close, protect, cancel, monitor, lookup, then new entries, whatever the order they were asked in', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const gate = new RateGate(new ChargeLog(), scheduler);
      const call = (lane: Lane, name: string, at: string): Observable<string> =>
        cold(at).pipe(concatMap(() => gate.run(REST, lane, () => cold('---x|', { x: name }), exclusive)));
      const result = merge(
        call('monitor', 'a', 'a|'),
        call('place', 'e', '-a|'),
        call('lookup', 'l', '-a|'),
        call('monitor', 'm', '-a|'),
        call('cancel', 'x', '-a|'),
        call('protect', 's', '--a|'),
        call('close', 'c', '--a|'),
      );
      // A stop asked for last still goes right after the close, ahead of the lookup and the entry asked first.
      expectObservable(result).toBe('---a---c---s---x---m---l---e|');
    });
  });

  it('frees the slot when the call in flight is unsubscribed, and when it errors', () => {
    const budget = new ChargeLog();
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const gate = new RateGate(budget, scheduler);
      const stuck = cold('-');
      const failing = cold('--#');
      const after = cold('-z|');
      expectObservable(gate.run(REST, 'place', () => stuck, exclusive), '^ 9ms !').toBe('');
      expectObservable(gate.run(REST, 'place', () => failing, exclusive)).toBe('10ms --#');
      expectObservable(gate.run(REST, 'place', () => after, exclusive)).toBe('12ms -z|');
      expectSubscriptions(stuck.subscriptions).toBe('^ 9ms !');
      expectSubscriptions(failing.subscriptions).toBe('10ms ^-!');
      expectSubscriptions(after.subscriptions).toBe('12ms ^-!');
    });
    expect(budget.charges.map((charge) => charge.at)).toEqual([0, 10, 12]);
  });

  it('removes a request still waiting for the slot when it is unsubscribed, charging nothing', () => {
    const budget = new ChargeLog();
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const gate = new RateGate(budget, scheduler);
      const first = cold('-----a|');
      const abandoned = cold('b|');
      expectObservable(gate.run(REST, 'place', () => first, exclusive)).toBe('-----a|');
      expectObservable(gate.run(REST, 'close', () => abandoned, exclusive), '^-!').toBe('');
      expectSubscriptions(abandoned.subscriptions).toBe([]);
    });
    expect(budget.charges).toHaveLength(1);
  });

  it('never makes a public call wait for the slot', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const gate = new RateGate(new ChargeLog(), scheduler);
      expectObservable(gate.run(REST, 'place', () => cold('-----a|'), exclusive)).toBe('-----a|');
      expectObservable(gate.run({ rest: 0 }, 'monitor', () => cold('-t|'))).toBe('-t|');
    });
  });

  it('waits for the budget and the slot both: a private call queued behind a full counter and a call in flight', () => {
    const kraken = new KrakenRateBudget('starter');
    const chargedAt: number[] = [];
    const budget: RateBudget = {
      waitMs: (cost, now) => kraken.waitMs(cost, now),
      record: (cost, now) => {
        chargedAt.push(now);
        kraken.record(cost, now);
      },
      snap: (cost, now) => kraken.snap(cost, now),
    };
    const sentAt: number[] = [];
    marbles(({ cold, expectObservable, scheduler }) => {
      kraken.snapRest(0);
      const gate = new RateGate(budget, scheduler);
      const call = (name: string) => () => {
        sentAt.push(scheduler.now());
        return cold('5000ms x|', { x: name });
      };
      // a goes at the first free unit (3031) and is in flight until 8032; b's unit is free at 6062, but the
      // slot only at 8032, so b is sent (and charged) then.
      expectObservable(merge(gate.run(REST, 'place', call('a'), exclusive), gate.run(REST, 'place', call('b'), exclusive))).toBe(
        '8031ms a 5000ms b|',
      );
    });
    expect(sentAt).toEqual([3031, 8032]);
    // b was charged when it was sent, not when its unit was free.
    expect(chargedAt).toEqual([3031, 8032]);
  });

  it('does not keep the slot from a monitoring call while a cancel waits for its pair trading counter', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const budget = new KrakenRateBudget('starter');
      // Starter trading counter: max 60, decay 1 unit/s. Full for XBTUSD: a 1-unit call fits after 1000 ms.
      budget.snapTrading('XBTUSD', 0);
      const gate = new RateGate(budget, scheduler);
      const result = merge(
        gate.run(placeOn('XBTUSD'), 'cancel', () => cold('100ms (x|)'), exclusive),
        gate.run(REST, 'monitor', () => cold('100ms (m|)'), exclusive),
        gate.run(REST, 'monitor', () => cold('2000ms (n|)'), exclusive),
      );
      // m goes at once; n takes the slot when m ends (100); the cancel's unit is free at 1000, the slot at 2100.
      expectObservable(result).toBe('100ms m 1999ms n 99ms (x|)');
    });
  });

  it('holds no timer while requests wait only for the slot, and none when idle', () => {
    const pendingAt: number[] = [];
    marbles(({ cold, expectObservable, scheduler }) => {
      const counting = countingScheduler(scheduler);
      const gate = new RateGate(new ChargeLog(), counting.scheduler);
      const both = merge(gate.run(REST, 'place', () => cold('---a|'), exclusive), gate.run(REST, 'place', () => cold('---b|'), exclusive));
      expectObservable(both).toBe('---a---b|');
      for (const at of [1, 5, 10]) scheduler.schedule(() => pendingAt.push(counting.pending()), at);
    });
    expect(pendingAt).toEqual([0, 0, 0]);
  });
});

describe('rateLimit', () => {
  /** A starter-tier gate whose REST counter is at its cap at 0 ms: units free at 3031, 6061, 9091, 12122 ms. */
  const fullStarterGate = (scheduler: SchedulerLike): { gate: RateGate; budget: KrakenRateBudget } => {
    const budget = new KrakenRateBudget('starter');
    budget.snapRest(0);
    return { gate: new RateGate(budget, scheduler), budget };
  };
  const oneRestUnit = (): RateCost => REST;

  it('never emits and stays subscribed when the source never emits', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const { gate } = fullStarterGate(scheduler);
      const source = cold('-');
      const subs =        '^';
      const expected =    '-';
      expectObservable(source.pipe(rateLimit(gate, oneRestUnit, 'monitor'))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('completes at once when the source is empty', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const { gate } = fullStarterGate(scheduler);
      const source = cold('|');
      const subs =        '(^!)';
      const expected =    '|';
      expectObservable(source.pipe(rateLimit(gate, oneRestUnit, 'monitor'))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('releases each value when the budget allows it, in order, and completes after the last', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const { gate } = fullStarterGate(scheduler);
      const source = cold('-a-b-c|                          ');
      const subs =        '^-----!                          ';
      const expected =    '3031ms a 3029ms b 3029ms (c|)    ';
      expectObservable(source.pipe(rateLimit(gate, oneRestUnit, 'monitor'))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('passes values through at once when the budget has room', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const gate = new RateGate(new KrakenRateBudget('starter'), scheduler);
      const source = cold('-a-b-c|');
      const expected =    '-a-b-c|';
      expectObservable(source.pipe(rateLimit(gate, oneRestUnit, 'monitor'))).toBe(expected);
    });
  });

  it('passes an error on at once and drops the waiting value without charging it', () => {
    const budget = new KrakenRateBudget('starter');
    let queuedAfter = -1;
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      budget.snapRest(0);
      const gate = new RateGate(budget, scheduler);
      const source = cold('-a-#');
      const subs =        '^--!';
      const expected =    '---#';
      expectObservable(source.pipe(rateLimit(gate, oneRestUnit, 'monitor'))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
      scheduler.schedule(() => (queuedAfter = gate.queued), 10);
    });
    expect(queuedAfter).toBe(0);
    expect(budget.waitMs(REST, 3031)).toBe(0);
  });

  it('keeps releasing values of a never-ending source without completing', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const { gate } = fullStarterGate(scheduler);
      const source = cold('-a-b-                  ');
      const subs =        '^                      ';
      const expected =    '3031ms a 3029ms b      ';
      expectObservable(source.pipe(rateLimit(gate, oneRestUnit, 'monitor'))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('unsubscribes from the source and leaves the gate empty on early unsubscription', () => {
    let queuedAfter = -1;
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const { gate } = fullStarterGate(scheduler);
      const source = cold('-a-b-c-      ');
      const unsub =       '^ 99ms !     ';
      const expected =    '-------      ';
      expectObservable(source.pipe(rateLimit(gate, oneRestUnit, 'monitor')), unsub).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(unsub);
      scheduler.schedule(() => (queuedAfter = gate.queued), 200);
    });
    expect(queuedAfter).toBe(0);
  });

  it('charges each value the cost its own costOf gives', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const gate = new RateGate(new KrakenRateBudget('starter'), scheduler);
      const costs: Record<string, RateCost> = { a: { rest: 14 }, b: { rest: 1 }, c: { rest: 2 } };
      // a and b fill the counter to 15 (b at 1 ms); c needs 2 free units, about 6060 ms after b: at 6061 ms.
      const source = cold('ab-c|            ');
      const expected =    'ab 6059ms (c|)   ';
      expectObservable(source.pipe(rateLimit(gate, (v: string) => costs[v] ?? REST, 'place'))).toBe(expected);
    });
  });
});
