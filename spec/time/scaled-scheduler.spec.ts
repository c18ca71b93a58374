import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { interval, take, timer, toArray } from 'rxjs';
import { ScaledScheduler } from '../../src/time/scaled-scheduler';

// Jest's fake timers drive setTimeout and Date.now here, so nothing sleeps.
describe('ScaledScheduler', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('runs its clock factor times faster than the wall clock', () => {
    const scheduler = new ScaledScheduler(10);
    jest.advanceTimersByTime(150);
    expect(scheduler.now()).toBe(1_000_000 + 1500);
  });

  it('fires a delay of d after d / factor real milliseconds', () => {
    const scheduler = new ScaledScheduler(10);
    const seen: number[] = [];
    const subscription = timer(1000, scheduler).subscribe(() => seen.push(scheduler.now()));
    jest.advanceTimersByTime(99);
    expect(seen).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(seen).toEqual([1_000_000 + 1000]);
    subscription.unsubscribe();
  });

  it('scales rescheduled (periodic) actions too', () => {
    const scheduler = new ScaledScheduler(4);
    const seen: number[] = [];
    const subscription = interval(400, scheduler)
      .pipe(take(3), toArray())
      .subscribe((values) => seen.push(...values));
    jest.advanceTimersByTime(299);
    expect(seen).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(seen).toEqual([0, 1, 2]);
    subscription.unsubscribe();
  });

  it('cancels a scheduled action on unsubscribe and leaves no timer', () => {
    const scheduler = new ScaledScheduler(2);
    const seen: number[] = [];
    const subscription = timer(100, scheduler).subscribe((v) => seen.push(v));
    subscription.unsubscribe();
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(1000);
    expect(seen).toEqual([]);
  });

  it('refuses a non-positive factor', () => {
    expect(() => new ScaledScheduler(0)).toThrow(RangeError);
  });
});
