import { type SchedulerAction, type SchedulerLike, Subscription } from 'rxjs';

/**
 * A real-time scheduler whose clock runs `factor` times faster than the wall clock: `now()` advances
 * `factor` ms per real ms and a delay of `d` ms fires after `d / factor` real ms.
 *
 * Why: the paper exchange and the handler can share one accelerated clock (pass `() => scheduler.now()` as the
 * paper exchange's clock), so Kraken's rate-limit decay, order timeouts and polling keep their real proportions
 * while a whole scenario runs in seconds (the demo and the end-to-end tests).
 */
export class ScaledScheduler implements SchedulerLike {
  private readonly origin: number;

  constructor(
    readonly factor: number,
    private readonly wallClock: () => number = Date.now,
  ) {
    if (!(factor > 0) || !Number.isFinite(factor)) throw new RangeError(`factor must be a positive number, got ${factor}`);
    this.origin = wallClock();
  }

  now(): number {
    return Math.floor(this.origin + (this.wallClock() - this.origin) * this.factor);
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    return new ScaledAction(this.factor, work).schedule(state, delay);
  }
}

class ScaledAction<T> extends Subscription implements SchedulerAction<T> {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly factor: number,
    private readonly work: (this: SchedulerAction<T>, state?: T) => void,
  ) {
    super(() => this.clearTimer());
  }

  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.work.call(this, state);
      // An action that did not reschedule itself is done.
      if (this.timer === undefined) this.unsubscribe();
    }, Math.max(0, delay) / this.factor);
    return this;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
