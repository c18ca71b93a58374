import { describe, expect, it } from '@jest/globals';
import { type Observable, map, merge } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { NonceSource } from '../../src/kraken/nonce';
import { PrivateLane } from '../../src/kraken/private-lane';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('PrivateLane', () => {
  it('runs calls one at a time in subscription order, each taking its nonce when it starts', () => {
    const testScheduler = scheduler();
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const lane = new PrivateLane(new NonceSource(() => testScheduler.now()));
      const nonces: bigint[] = [];
      const a = cold('--a|');
      const b = cold('--b|');
      const c = cold('--c|');
      const call = (work: Observable<string>) => lane.run((nonce) => {
        nonces.push(nonce);
        return work;
      });
      // a----------- runs 0..3, b 3..6, c 6..9
      expectObservable(merge(call(a), call(b), call(c))).toBe('--a--b--c|');
      expectSubscriptions(a.subscriptions).toBe('^--!');
      expectSubscriptions(b.subscriptions).toBe('---^--!');
      expectSubscriptions(c.subscriptions).toBe('------^--!');
      testScheduler.flush();
      // Frame 0 is clock 0 (nonce bumped to 1); b starts at 3 ms, c at 6 ms: microsecond-scaled clock.
      expect(nonces).toEqual([1n, 3000n, 6000n]);
    });
  });

  it('a call unsubscribed while waiting never runs, and the next one takes its turn', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const lane = new PrivateLane();
      const a = cold('---a|');
      const b = cold('-b|');
      const c = cold('-c|');
      expectObservable(lane.run(() => a)).toBe('---a|');
      expectObservable(lane.run(() => b), '^-!').toBe('');
      expectObservable(lane.run(() => c)).toBe('-----c|');
      expectSubscriptions(b.subscriptions).toBe([]);
      expectSubscriptions(c.subscriptions).toBe('----^-!');
    });
  });

  it('unsubscribing a running call tears it down and frees the lane', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const lane = new PrivateLane();
      const slow = cold('------a|');
      const next = cold('-b|');
      expectObservable(lane.run(() => slow), '^-!').toBe('');
      expectObservable(lane.run(() => next)).toBe('---b|');
      expectSubscriptions(slow.subscriptions).toBe('^-!');
      expectSubscriptions(next.subscriptions).toBe('--^-!');
    });
  });

  it('an error ends the call and frees the lane', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const lane = new PrivateLane();
      const failing = cold('--#', {}, new Error('EService:Busy'));
      const next = cold('-b|');
      expectObservable(lane.run(() => failing)).toBe('--#', {}, new Error('EService:Busy'));
      expectObservable(lane.run(() => next)).toBe('---b|');
      expectSubscriptions(next.subscriptions).toBe('--^-!');
    });
  });

  it('a work factory that throws errors the call and frees the lane', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const lane = new PrivateLane();
      const next = cold('-b|');
      expectObservable(lane.run<string>(() => { throw new Error('cannot build request'); })).toBe('#', {}, new Error('cannot build request'));
      expectObservable(lane.run(() => next)).toBe('-b|');
    });
  });

  it('a resubscription (a retry) queues again and gets a fresh nonce', () => {
    const testScheduler = scheduler();
    testScheduler.run(({ cold, expectObservable }) => {
      const lane = new PrivateLane(new NonceSource(() => testScheduler.now()));
      const call = lane.run((nonce) => cold('-x|').pipe(map(() => nonce.toString())));
      expectObservable(merge(call, call)).toBe('-a-b|', { a: '1', b: '2000' });
    });
  });
});
