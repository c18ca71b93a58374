import { expect } from '@jest/globals';
import { type SchedulerAction, type SchedulerLike, Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { type RateBudget, type RateCost } from '../../src/model/budget';

type RunHelpers = Parameters<Parameters<TestScheduler['run']>[0]>[0];

/**
 * Runs `body` in virtual time (1 frame = 1 ms). The scheduler is handed over too, so operators that take an
 * explicit `scheduler` are tested with it rather than through the patched default.
 */
export function marbles(body: (helpers: RunHelpers & { readonly scheduler: TestScheduler }) => void): void {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  scheduler.run((helpers) => body({ ...helpers, scheduler }));
}

/**
 * Wraps a scheduler and counts the actions scheduled on it that have neither run nor been cancelled, so a test
 * can prove that an operator holds no timer while it has nothing to wait for.
 */
export function countingScheduler(inner: SchedulerLike): { readonly scheduler: SchedulerLike; pending(): number } {
  let pending = 0;
  const scheduler: SchedulerLike = {
    now: () => inner.now(),
    schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
      let live = true;
      const settle = (): void => {
        if (live) pending--;
        live = false;
      };
      pending++;
      const action = inner.schedule<T>(
        function (this: SchedulerAction<T>, s?: T) {
          settle();
          work.call(this, s);
        },
        delay,
        state,
      );
      action.add(settle);
      return action;
    },
  };
  return { scheduler, pending: () => pending };
}

/** A budget that always fits and records every charge with its time, to see when calls are charged. */
export class ChargeLog implements RateBudget {
  readonly charges: Array<{ readonly at: number; readonly cost: RateCost }> = [];
  waitMs(): number {
    return 0;
  }
  record(cost: RateCost, now: number): void {
    this.charges.push({ at: now, cost });
  }
  snap(): void {
    return undefined;
  }
}
