import { describe, expect, it } from '@jest/globals';
import { type Observable, defer, tap } from 'rxjs';
import { ExchangeError, isExchangeError } from '../../src/model/errors';
import { type BackoffPolicy, backoffDelay, retryBackoff } from '../../src/operators/retry-backoff';
import { marbles } from './support';

const policy = (overrides: Partial<BackoffPolicy> = {}): BackoffPolicy => ({
  maxAttempts: 4,
  initialDelayMs: 10,
  maxDelayMs: 25,
  multiplier: 2,
  jitter: 0,
  shouldRetry: () => true,
  ...overrides,
});

/** A random source that returns the given values in turn. */
const sequence = (...values: number[]): (() => number) => {
  let next = 0;
  return () => values[next++ % values.length] ?? 0;
};

const rateLimited = (retryAt: number): ExchangeError =>
  new ExchangeError({ kind: 'rate-limited', codes: ['EAPI:Rate limit exceeded'], endpoint: 'AddOrder', retryAt, facts: { limiter: 'rest' } });

describe('backoffDelay', () => {
  it('grows by the multiplier from the initial delay and stops at the cap', () => {
    const p = policy({ initialDelayMs: 100, maxDelayMs: 1000 });
    expect([1, 2, 3, 4, 5, 6].map((retry) => backoffDelay(p, retry))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('spreads each delay over ±jitter with the injected random source, capped again, in whole ms', () => {
    const p = policy({ initialDelayMs: 100, maxDelayMs: 1000, jitter: 0.5, random: sequence(0, 0.5, 0.9, 0.999) });
    // 100·0.5, 200·1.0, 400·1.4, 800·1.499 = 1199.2 → capped at 1000
    expect([1, 2, 3, 4].map((retry) => backoffDelay(p, retry))).toEqual([50, 200, 560, 1000]);
  });

  it('rounds a fractional delay to whole milliseconds', () => {
    expect(backoffDelay(policy({ initialDelayMs: 10, multiplier: 1.5, maxDelayMs: 1000 }), 2)).toBe(15);
    expect(backoffDelay(policy({ initialDelayMs: 10, multiplier: 1.55, maxDelayMs: 1000 }), 2)).toBe(16);
  });

  it('falls back to the cap when the policy figures are not finite', () => {
    expect(backoffDelay(policy({ initialDelayMs: Number.NaN, maxDelayMs: 500 }), 1)).toBe(500);
  });
});

describe('retryBackoff', () => {
  it('never emits and stays subscribed when the source never emits', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const source = cold('-');
      const subs =        '^';
      const expected =    '-';
      expectObservable(source.pipe(retryBackoff(policy(), scheduler))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('completes at once when the source is empty', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const source = cold('|');
      const subs =        '(^!)';
      const expected =    '|';
      expectObservable(source.pipe(retryBackoff(policy(), scheduler))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('passes values and completion through unchanged', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const source = cold('-a-b|');
      const subs =        '^---!';
      const expected =    '-a-b|';
      expectObservable(source.pipe(retryBackoff(policy(), scheduler))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('keeps a never-ending source subscribed and passes its values', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const source = cold('-a-b-');
      const subs =        '^';
      const expected =    '-a-b-';
      expectObservable(source.pipe(retryBackoff(policy(), scheduler))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('resubscribes after 10, 20 and 25 ms (capped) and lets the fourth error through', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const source = cold('--#                                ', undefined, 'busy');
      const subs = [      '^-!                                ',
                          '-- 10ms ^-!                        ',
                          '-- 10ms -- 20ms ^-!                ',
                          '-- 10ms -- 20ms -- 25ms ^-!        '];
      const expected =    '-- 10ms -- 20ms -- 25ms --#        ';
      expectObservable(source.pipe(retryBackoff(policy(), scheduler))).toBe(expected, undefined, 'busy');
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('uses the default scheduler in virtual time when none is given', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--#              ');
      const subs = [      '^-!              ',
                          '-- 10ms ^-!      '];
      const expected =    '-- 10ms --#      ';
      expectObservable(source.pipe(retryBackoff(policy({ maxAttempts: 2 })))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('emits what a later attempt delivers and completes with it', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const first =  cold('--#');
      const second = cold(       '-#');
      const third =  cold(                 '--a|');
      const expected =    '-- 10ms - 20ms --a|';
      const attempts = [first, second, third];
      let made = 0;
      const source = defer(() => attempts[made++] ?? cold('#'));
      expectObservable(source.pipe(retryBackoff(policy(), scheduler))).toBe(expected);
      expectSubscriptions(first.subscriptions).toBe( '^-!');
      expectSubscriptions(second.subscriptions).toBe('-- 10ms ^!');
      expectSubscriptions(third.subscriptions).toBe( '-- 10ms - 20ms ^--!');
    });
  });

  it('rethrows an error the policy does not retry at once, without resubscribing', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const source = cold('-a-#', { a: 1 }, 'EOrder:Insufficient funds');
      const subs =        '^--!';
      const expected =    '-a-#';
      const p = policy({ shouldRetry: (error) => error !== 'EOrder:Insufficient funds' });
      expectObservable(source.pipe(retryBackoff(p, scheduler))).toBe(expected, { a: 1 }, 'EOrder:Insufficient funds');
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('asks shouldRetry with the number of the attempt that failed', () => {
    const asked: number[] = [];
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const source = cold('#                      ');
      const subs = [      '(^!)                   ',
                          '10ms (^!)              ',
                          '10ms 20ms (^!)         '];
      const expected =    '10ms 20ms #            ';
      const p = policy({ maxAttempts: 10, shouldRetry: (_error, attempt) => (asked.push(attempt), attempt < 3) });
      expectObservable(source.pipe(retryBackoff(p, scheduler))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
    expect(asked).toEqual([1, 2, 3]);
  });

  it('does not retry at all with maxAttempts 1', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const source = cold('--#');
      const subs =        '^-!';
      const expected =    '--#';
      expectObservable(source.pipe(retryBackoff(policy({ maxAttempts: 1 }), scheduler))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('jitters every delay exactly with an injected random source', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      // delays: 100·(0.5 + 0) = 50, 200·(0.5 + 0.5) = 200, 400·(0.5 + 0.9) = 560
      const source = cold('-#                               ');
      const subs = [      '^!                               ',
                          '- 50ms ^!                        ',
                          '- 50ms - 200ms ^!                ',
                          '- 50ms - 200ms - 560ms ^!        '];
      const expected =    '- 50ms - 200ms - 560ms -#        ';
      const p = policy({ initialDelayMs: 100, maxDelayMs: 1000, jitter: 0.5, random: sequence(0, 0.5, 0.9) });
      expectObservable(source.pipe(retryBackoff(p, scheduler))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('waits until the time the error itself demands when that is later than the backoff', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const source = cold('--#               ', undefined, rateLimited(5000));
      const subs = [      '^-!               ',
                          '5000ms ^-!        '];
      const expected =    '5000ms --#        ';
      const p = policy({
        maxAttempts: 2,
        minDelayFor: (error, now) => (isExchangeError(error) && error.retryAt !== undefined ? error.retryAt - now : undefined),
      });
      expectObservable(source.pipe(retryBackoff(p, scheduler))).toBe(expected, undefined, rateLimited(5000));
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('keeps the backoff when the demanded delay is shorter, and ignores an undefined one', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const first =  cold('--#', undefined, rateLimited(5));
      const second = cold(        '--#', undefined, 'no retryAt');
      const third =  cold(                    'a|');
      const expected =    '-- 10ms -- 20ms a|';
      const attempts = [first, second, third];
      let made = 0;
      const source = defer(() => attempts[made++] ?? cold('#'));
      const p = policy({
        minDelayFor: (error, now) => (isExchangeError(error) && error.retryAt !== undefined ? error.retryAt - now : undefined),
      });
      expectObservable(source.pipe(retryBackoff(p, scheduler))).toBe(expected);
      expectSubscriptions(first.subscriptions).toBe( '^-!');
      expectSubscriptions(second.subscriptions).toBe('-- 10ms ^-!');
      expectSubscriptions(third.subscriptions).toBe( '-- 10ms -- 20ms ^!');
    });
  });

  it('replays a tap placed before it once per attempt (side effects that must happen once go after it)', () => {
    let upstreamRuns = 0;
    let downstreamSubscribes = 0;
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const source = cold('a#                          ');
      const subs = [      '^!                          ',
                          '- 10ms ^!                   ',
                          '- 10ms - 20ms ^!            '];
      const expected =    'a 10ms a 20ms a#            ';
      const result: Observable<string> = source.pipe(
        tap(() => upstreamRuns++),
        retryBackoff(policy({ maxAttempts: 3 }), scheduler),
        tap({ subscribe: () => downstreamSubscribes++ }),
      );
      expectObservable(result).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
    expect(upstreamRuns).toBe(3);
    expect(downstreamSubscribes).toBe(1);
  });

  it('cancels a pending retry on early unsubscription and never resubscribes', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const source = cold('--#   ');
      const subs =        '^-!   ';
      const unsub =       '^-----!';
      const expected =    '------';
      expectObservable(source.pipe(retryBackoff(policy(), scheduler)), unsub).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('unsubscribes from a running attempt on early unsubscription', () => {
    marbles(({ cold, expectObservable, expectSubscriptions, scheduler }) => {
      const source = cold('--#           ');
      const subs = [      '^-!           ',
                          '-- 10ms ^!    '];
      const unsub =       '^- 10ms -!    ';
      const expected =    '--------------';
      expectObservable(source.pipe(retryBackoff(policy(), scheduler)), unsub).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });
});
