import { describe, expect, it } from '@jest/globals';
import { type Observable, catchError, map, mergeMap, of } from 'rxjs';
import { ExchangeError, type ErrorKind, isExchangeError } from '../../src/model/errors';
import {
  BreakerOpenError,
  type BreakerPolicy,
  CircuitBreaker,
  circuitBreaker,
  isBreakerOpenError,
} from '../../src/operators/circuit-breaker';
import { countingScheduler, marbles } from './support';

const failure = (kind: ErrorKind, code: string): ExchangeError => new ExchangeError({ kind, codes: [code], endpoint: 'AddOrder' });
const busy = failure('retryable', 'EService:Busy');
const timeout = failure('ambiguous', 'timeout after sending');
const refused = failure('refused', 'EOrder:Insufficient funds');
const lockout = failure('auth', 'EGeneral:Temporary lockout');

/** The exchange policy the streams are expected to use: refusals are answers, auth errors open at once. */
const policy = (overrides: Partial<BreakerPolicy> = {}): BreakerPolicy => ({
  failureThreshold: 3,
  cooldownMs: 100,
  counts: (error) => isExchangeError(error) && error.kind !== 'refused' && error.kind !== 'auth',
  opensAtOnce: (error) => isExchangeError(error) && error.kind === 'auth',
  ...overrides,
});

/** What became of one call, as a short string: `a:v` (value), `a:retryable` (its error), `a:open until 121`. */
const outcomeOf =
  (name: string) =>
  (call: Observable<string>): Observable<string> =>
    call.pipe(
      map((value) => `${name}:${value}`),
      catchError((error: unknown) =>
        of(
          isBreakerOpenError(error)
            ? `${name}:open until ${error.reopensAt}`
            : `${name}:${isExchangeError(error) ? error.kind : String(error)}`,
        ),
      ),
    );

/** Makes the call named by each trigger value through the breaker. */
const run = (breaker: CircuitBreaker, triggers: Observable<string>, calls: Readonly<Record<string, Observable<string>>>): Observable<string> =>
  triggers.pipe(
    // mergeMap: calls are independent and may overlap.
    mergeMap((name) => outcomeOf(name)((calls[name] ?? of('no such call')).pipe(breaker.guard()))),
  );

describe('CircuitBreaker.guard while closed', () => {
  it('never emits and stays subscribed when the call never answers', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const call = cold<string>('-');
      const subs =              '^';
      const expected =          '-';
      expectObservable(call.pipe(new CircuitBreaker(policy(), scheduler).guard())).toBe(expected);
      expectSubscriptions(call.subscriptions).toBe(subs);
    });
  });

  it('completes at once when the call is empty', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const call = cold<string>('|');
      const subs =              '(^!)';
      const expected =          '|';
      expectObservable(call.pipe(new CircuitBreaker(policy(), scheduler).guard())).toBe(expected);
      expectSubscriptions(call.subscriptions).toBe(subs);
    });
  });

  it('passes the values and the completion of the call through', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const call = cold('-v-w|');
      const subs =      '^---!';
      const expected =  '-v-w|';
      expectObservable(call.pipe(new CircuitBreaker(policy(), scheduler).guard())).toBe(expected);
      expectSubscriptions(call.subscriptions).toBe(subs);
    });
  });

  it('passes the error of the call through unchanged', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const call = cold('-#', undefined, busy);
      const subs =      '^!';
      const expected =  '-#';
      expectObservable(call.pipe(new CircuitBreaker(policy(), scheduler).guard())).toBe(expected, undefined, busy);
      expectSubscriptions(call.subscriptions).toBe(subs);
    });
  });

  it('keeps a never-ending call subscribed', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const call = cold('-v-w-');
      const subs =      '^';
      const expected =  '-v-w-';
      expectObservable(call.pipe(new CircuitBreaker(policy(), scheduler).guard())).toBe(expected);
      expectSubscriptions(call.subscriptions).toBe(subs);
    });
  });

  it('unsubscribes from the call on early unsubscription', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const call = cold('-v-w|');
      const unsub =     '^-!';
      const expected =  '-v-';
      expectObservable(call.pipe(new CircuitBreaker(policy(), scheduler).guard()), unsub).toBe(expected);
      expectSubscriptions(call.subscriptions).toBe(unsub);
    });
  });
});

describe('CircuitBreaker', () => {
  it('opens after 3 consecutive counted failures and then fails fast without making the call', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const breaker = new CircuitBreaker(policy(), scheduler);
      const call = cold<string>('-#', undefined, busy);
      const triggers = cold('a 9ms b 9ms c 9ms d ');
      const expected =      '-a 9ms b 9ms c 8ms d';
      expectObservable(run(breaker, triggers, { a: call, b: call, c: call, d: call })).toBe(expected, {
        a: 'a:retryable',
        b: 'b:retryable',
        c: 'c:retryable',
        d: 'd:open until 121',
      });
      expectSubscriptions(call.subscriptions).toBe(['^!', '10ms ^!', '20ms ^!']);
    });
  });

  it('lets one probe through after the cool-down; its success closes the breaker', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const breaker = new CircuitBreaker(policy({ failureThreshold: 2 }), scheduler);
      const failing = cold<string>('-#', undefined, timeout);
      const probe = cold('--v|');
      const later = cold('-v|');
      const triggers = cold('a 9ms b 109ms (cd) 6ms e     ');
      const expected =      '-a 9ms b 108ms d 1ms c 8ms e';
      expectObservable(run(breaker, triggers, { a: failing, b: failing, c: probe, d: later, e: later })).toBe(
        expected,
        { a: 'a:ambiguous', b: 'b:ambiguous', c: 'c:v', d: 'd:open until 111', e: 'e:v' },
      );
      expectSubscriptions(probe.subscriptions).toBe('120ms ^--!');
      expectSubscriptions(later.subscriptions).toBe('130ms ^-!');
    });
  });

  it('opens again for a full cool-down when the probe fails', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const breaker = new CircuitBreaker(policy({ failureThreshold: 2 }), scheduler);
      const failing = cold<string>('-#', undefined, busy);
      const ok = cold('-v|');
      const triggers = cold('a 9ms b 109ms c 29ms d 79ms e ');
      const expected =      '-a 9ms b 109ms c 28ms d 80ms e';
      expectObservable(run(breaker, triggers, { a: failing, b: failing, c: failing, d: ok, e: ok })).toBe(
        expected,
        { a: 'a:retryable', b: 'b:retryable', c: 'c:retryable', d: 'd:open until 221', e: 'e:v' },
      );
      expectSubscriptions(failing.subscriptions).toBe(['^!', '10ms ^!', '120ms ^!']);
      expectSubscriptions(ok.subscriptions).toBe('230ms ^-!');
    });
  });

  it('leaves no timer behind once disposed, and still works out half-open from the clock', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const counted = countingScheduler(scheduler);
      const breaker = new CircuitBreaker(policy({ failureThreshold: 1 }), counted.scheduler);
      const down = cold<string>('-#', undefined, busy);
      const ok = cold('-v|');
      const triggers = cold('a 199ms b  ');
      const expected =      '-a 199ms b';
      scheduler.schedule(() => {
        expect(counted.pending()).toBe(1); // the cool-down timer of the open breaker
        breaker.dispose();
        expect(counted.pending()).toBe(0);
      }, 5);
      expectObservable(run(breaker, triggers, { a: down, b: ok })).toBe(expected, { a: 'a:retryable', b: 'b:v' });
    });
  });

  it('opens at once on an auth error (lockout), whatever the threshold', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const breaker = new CircuitBreaker(policy({ failureThreshold: 5 }), scheduler);
      const locked = cold<string>('-#', undefined, lockout);
      const ok = cold('-v|');
      const triggers = cold('a 9ms b ');
      const expected =      '-a 8ms b';
      expectObservable(run(breaker, triggers, { a: locked, b: ok })).toBe(expected, {
        a: 'a:auth',
        b: 'b:open until 101',
      });
      expectSubscriptions(ok.subscriptions).toBe([]);
    });
  });

  it('neither counts nor resets on a refusal: refusals mixed into an outage do not hide it', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const breaker = new CircuitBreaker(policy(), scheduler);
      const failing = cold<string>('-#', undefined, busy);
      const refusing = cold<string>('-#', undefined, refused);
      const ok = cold('-v|');
      const triggers = cold('a 9ms b 9ms r 9ms c 9ms d ');
      const expected =      '-a 9ms b 9ms r 9ms c 8ms d';
      expectObservable(run(breaker, triggers, { a: failing, b: failing, r: refusing, c: failing, d: ok })).toBe(
        expected,
        { a: 'a:retryable', b: 'b:retryable', r: 'r:refused', c: 'c:retryable', d: 'd:open until 131' },
      );
    });
  });

  it('never opens on refusals alone', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const breaker = new CircuitBreaker(policy({ failureThreshold: 2 }), scheduler);
      const refusing = cold<string>('-#', undefined, refused);
      const calls = { a: refusing, b: refusing, c: refusing, d: refusing };
      const triggers = cold('a 9ms b 9ms c 9ms d ');
      const expected =      '-a 9ms b 9ms c 9ms d';
      expectObservable(run(breaker, triggers, calls)).toBe(expected, {
        a: 'a:refused',
        b: 'b:refused',
        c: 'c:refused',
        d: 'd:refused',
      });
      expectSubscriptions(refusing.subscriptions).toBe(['^!', '10ms ^!', '20ms ^!', '30ms ^!']);
    });
  });

  it('resets the run of failures on a success', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const breaker = new CircuitBreaker(policy(), scheduler);
      const failing = cold<string>('-#', undefined, busy);
      const ok = cold('-v|');
      const triggers = cold('a 9ms b 9ms s 9ms c 9ms d 9ms t ');
      const expected =      '-a 9ms b 9ms s 9ms c 9ms d 9ms t';
      expectObservable(run(breaker, triggers, { a: failing, b: failing, s: ok, c: failing, d: failing, t: ok })).toBe(
        expected,
        { a: 'a:retryable', b: 'b:retryable', s: 's:v', c: 'c:retryable', d: 'd:retryable', t: 't:v' },
      );
    });
  });

  it('does not let a call that started before it opened close it by succeeding later', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const breaker = new CircuitBreaker(policy({ failureThreshold: 1 }), scheduler);
      const slow = cold('-----v|');
      const failing = cold<string>('-#', undefined, busy);
      const triggers = cold('ab 8ms c    ');
      const expected =      '--b--a 4ms c';
      expectObservable(run(breaker, triggers, { a: slow, b: failing, c: slow })).toBe(expected, {
        a: 'a:v',
        b: 'b:retryable',
        c: 'c:open until 102',
      });
    });
  });

  it('lets the next call probe when the probe is unsubscribed before it answers', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const breaker = new CircuitBreaker(policy({ failureThreshold: 1 }), scheduler);
      const failing = cold<string>('-#', undefined, busy);
      const silent = cold<string>('-');
      const ok = cold('-v|');
      expectObservable(failing.pipe(breaker.guard()), '^').toBe('-#', undefined, busy);
      expectObservable(silent.pipe(breaker.guard()), '110ms ^ 9ms !').toBe('');
      expectObservable(ok.pipe(breaker.guard()), '130ms ^').toBe('131ms v|');
      expectSubscriptions(silent.subscriptions).toBe('110ms ^ 9ms !');
      expectSubscriptions(ok.subscriptions).toBe('130ms ^-!');
    });
  });

  it('publishes its state: closed, open, half-open when the cool-down ends, closed after a good probe', () => {
    marbles(({ cold, expectObservable, scheduler }) => {
      const breaker = new CircuitBreaker(policy({ failureThreshold: 1 }), scheduler);
      const calls = { a: cold<string>('-#', undefined, busy), p: cold('-v|') };
      const triggers = cold('a 149ms p ');
      const expected =      '-a 149ms p';
      expectObservable(run(breaker, triggers, calls)).toBe(expected, { a: 'a:retryable', p: 'p:v' });
      expectObservable(breaker.state$, '^ 300ms !').toBe('co 99ms h 49ms c', {
        c: 'closed',
        o: 'open',
        h: 'half-open',
      });
    });
  });

  it('says whether a call would be refused now, without counting or taking the probe', () => {
    const seen: Array<string | null> = [];
    marbles(({ cold, expectObservable, scheduler }) => {
      const breaker = new CircuitBreaker(policy({ failureThreshold: 1 }), scheduler);
      const refusalAt = (at: number): void => {
        scheduler.schedule(() => seen.push(breaker.refusal() ? `${at}: refused until ${breaker.refusal()?.reopensAt}` : `${at}: admitted`), at);
      };
      refusalAt(0);
      expectObservable(cold<string>('-#', undefined, busy).pipe(breaker.guard()), '10ms ^').toBe('11ms #', undefined, busy);
      refusalAt(50);
      // Half-open from 111: asking does not take the probe; the probe (at 120) is out until 125.
      refusalAt(115);
      expectObservable(cold('5ms v|').pipe(breaker.guard()), '120ms ^').toBe('125ms v|');
      refusalAt(122);
      refusalAt(130);
    });
    expect(seen).toEqual(['0: admitted', '50: refused until 111', '115: admitted', '122: refused until 111', '130: admitted']);
  });

  it('raises BreakerOpenError, an Error that says when the cool-down ends', () => {
    const error = new BreakerOpenError(1_700_000_000_000);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('BreakerOpenError');
    expect(error.reopensAt).toBe(1_700_000_000_000);
    expect(error.message).toBe('circuit breaker open: calls fail fast until 2023-11-14T22:13:20.000Z');
  });
});

describe('circuitBreaker', () => {
  it('shares one breaker between every call guarded by the same operator', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const guarded = circuitBreaker(policy({ failureThreshold: 2 }), scheduler);
      const failing = cold<string>('-#', undefined, busy);
      const other = cold<number>('-1|');
      expectObservable(failing.pipe(guarded), '^').toBe('-#', undefined, busy);
      expectObservable(failing.pipe(guarded), '10ms ^').toBe('11ms #', undefined, busy);
      expectObservable(other.pipe(guarded), '20ms ^').toBe('20ms #', undefined, new BreakerOpenError(111));
      expectSubscriptions(other.subscriptions).toBe([]);
    });
  });
});

describe('CircuitBreaker.guard with successCounts: false', () => {
  it('a success does not reset the run of failures: the next counted failure still opens it', () => {
    marbles(({ cold, hot, expectObservable, scheduler }) => {
      const breaker = new CircuitBreaker(policy(), scheduler);
      const failing = cold<string>('-#', undefined, busy);
      const publicOk = cold('-(v|)');
      const triggers = hot('a-b-p-c-d', { a: 'a', b: 'b', p: 'p', c: 'c', d: 'd' });
      const calls = { a: failing.pipe(breaker.guard()), b: failing.pipe(breaker.guard()), p: publicOk.pipe(breaker.guard({ successCounts: false })), c: failing.pipe(breaker.guard()), d: failing.pipe(breaker.guard()) };
      const outcomes = triggers.pipe(mergeMap((name) => outcomeOf(name)(calls[name as keyof typeof calls])));
      // a fails, b fails, p succeeds (neutral), c fails: 3 in a row, open until 107; d is refused at once
      expectObservable(outcomes).toBe('-a-b-p-cd', {
        a: 'a:retryable',
        b: 'b:retryable',
        p: 'p:v',
        c: 'c:retryable',
        d: 'd:open until 107',
      });
    });
  });

  it('a counted success still resets the run (the default)', () => {
    marbles(({ cold, hot, expectObservable, scheduler }) => {
      const breaker = new CircuitBreaker(policy(), scheduler);
      const failing = cold<string>('-#', undefined, busy);
      const privateOk = cold('-(v|)');
      const triggers = hot('a-b-p-c-d', { a: 'a', b: 'b', p: 'p', c: 'c', d: 'd' });
      const calls = { a: failing, b: failing, p: privateOk, c: failing, d: failing };
      expectObservable(run(breaker, triggers, calls)).toBe('-a-b-p-c-d', {
        a: 'a:retryable',
        b: 'b:retryable',
        p: 'p:v',
        c: 'c:retryable',
        d: 'd:retryable',
      });
    });
  });

  it('as the probe, a neutral success leaves the breaker half-open and the next call probes', () => {
    marbles(({ cold, hot, expectObservable, scheduler }) => {
      const breaker = new CircuitBreaker(policy({ failureThreshold: 1 }), scheduler);
      const failing = cold<string>('-#', undefined, busy);
      const ok = cold('-(v|)');
      const triggers = hot('a 199ms p 9ms q', { a: 'a', p: 'p', q: 'q' });
      const calls = { a: failing.pipe(breaker.guard()), p: ok.pipe(breaker.guard({ successCounts: false })), q: ok.pipe(breaker.guard()) };
      const outcomes = triggers.pipe(mergeMap((name) => outcomeOf(name)(calls[name as keyof typeof calls])));
      expectObservable(outcomes).toBe('-a 199ms p 9ms q', { a: 'a:retryable', p: 'p:v', q: 'q:v' });
      scheduler.schedule(() => expect(breaker.state).toBe('half-open'), 202);
      scheduler.schedule(() => expect(breaker.state).toBe('closed'), 213);
    });
  });
});
