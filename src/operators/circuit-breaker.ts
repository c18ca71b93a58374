import {
  BehaviorSubject,
  type MonoTypeOperatorFunction,
  type Observable,
  type SchedulerLike,
  type Subscription,
  asyncScheduler,
  defer,
  finalize,
  tap,
  throwError,
} from 'rxjs';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** When the breaker opens. */
export interface BreakerPolicy {
  /** Consecutive counted failures that open it. */
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  /** Whether a failure counts towards the threshold (e.g. not a definitive refusal: the exchange answered). */
  readonly counts: (error: unknown) => boolean;
  /** Failures that open it at once (e.g. a lockout or a bad key: more calls make it worse). */
  readonly opensAtOnce: (error: unknown) => boolean;
}

/** A call refused without being made, because the breaker is open (or its one probe is still out). */
export class BreakerOpenError extends Error {
  /** Epoch ms (scheduler time) when the cool-down ends; already past while a probe is out. */
  readonly reopensAt: number;

  constructor(reopensAt: number) {
    super(`circuit breaker open: calls fail fast until ${Number.isFinite(reopensAt) ? new Date(reopensAt).toISOString() : String(reopensAt)}`);
    this.name = 'BreakerOpenError';
    this.reopensAt = reopensAt;
  }
}

export const isBreakerOpenError = (error: unknown): error is BreakerOpenError => error instanceof BreakerOpenError;

/** How one guarded call's outcome counts. */
export interface GuardOptions {
  /**
   * Whether the call's success says the service is well: it resets the run of failures, and as the probe it
   * closes the breaker. Default true. False for calls that can succeed while the service that fails does not
   * (Kraken's public market data beside failing private calls): their success is neutral, their failure counts.
   */
  readonly successCounts?: boolean;
}

/**
 * Stops calling a failing service for a while, then lets one probe call find out whether it is back.
 *
 * Intuition: a fuse shared by every call to one service; it trips after N failures in a row and is tested
 * with a single call after the cool-down.
 *
 * States: `closed` (calls pass; counted failures in a row are counted) → `open` after `failureThreshold`
 * consecutive counted failures, or at once on an `opensAtOnce` failure (calls fail fast with
 * `BreakerOpenError` and are not made) → `half-open` when `cooldownMs` has passed (the next call is the one
 * probe; others fail fast while it is out) → `closed` when the probe succeeds, `open` again when it fails.
 *
 * A failure that does not count (`counts` says no, e.g. a definitive refusal) is neutral: it neither counts
 * nor resets the run of failures, so refusals mixed into an outage cannot hide it. A probe ending in such a
 * failure leaves the breaker half-open for the next call to probe. Only a success resets the count.
 *
 * Time: `scheduler.now()`; one action on `scheduler` while open, for the move to half-open.
 *
 * @param policy Threshold, cool-down and which failures count or open at once.
 * @param scheduler Clock and timer for the cool-down.
 */
export class CircuitBreaker {
  private readonly current = new BehaviorSubject<BreakerState>('closed');
  private consecutiveFailures = 0;
  private reopensAt = Number.NEGATIVE_INFINITY;
  private probeOut = false;
  private cooldown: Subscription | null = null;

  /** The state now and every change after (never completes). */
  readonly state$: Observable<BreakerState> = this.current.asObservable();

  constructor(
    private readonly policy: BreakerPolicy,
    private readonly scheduler: SchedulerLike = asyncScheduler,
  ) {}

  /** The state at this moment. */
  get state(): BreakerState {
    return this.current.value;
  }

  /**
   * Wraps one call.
   *
   * failureThreshold 2, cooldownMs 100; each call below is `-#` (it fails 1 ms after it is made):
   * call a at 0:    -#     made; fails (1 in a row)
   * call b at 4:    -#     made; fails (2 in a row): open from 5 until 105
   * call c at 8:    #      not made: BreakerOpenError at once
   * call d at 110:  -#     made: the one probe (half-open); it fails: open again until 211
   * call e at 110:  #      not made: the probe is out
   *
   * The call's values, completion and error pass through unchanged; its first value or its completion is a
   * success, its error a failure. While open, the call is not subscribed: the result errors at once with
   * `BreakerOpenError`. Unsubscribing from a probe before it ends lets the next call probe. With
   * `successCounts: false` a success is neutral: the run of failures goes on, and a probe that succeeds leaves
   * the breaker half-open for the next call to probe.
   *
   * @param options `successCounts`: whether a success resets the count (default true).
   * @returns The call, guarded.
   */
  guard<T>(options: GuardOptions = {}): MonoTypeOperatorFunction<T> {
    const successCounts = options.successCounts ?? true;
    return (call) =>
      defer(() => {
        this.halfOpenIfCooledDown();
        const state = this.current.value;
        if (state === 'open' || (state === 'half-open' && this.probeOut)) {
          return throwError(() => new BreakerOpenError(this.reopensAt));
        }
        const probe = state === 'half-open';
        if (probe) this.probeOut = true;
        let settled = false;
        const settle = (outcome: () => void): void => {
          if (settled) return;
          settled = true;
          outcome();
        };
        return call.pipe(
          tap({
            next: () => settle(() => this.succeeded(probe, successCounts)),
            complete: () => settle(() => this.succeeded(probe, successCounts)),
            error: (error: unknown) => settle(() => this.failed(error, probe)),
          }),
          finalize(() => {
            // A probe abandoned before it said anything proves nothing: let the next call probe.
            if (probe && !settled && this.current.value === 'half-open') this.probeOut = false;
          }),
        );
      });
  }

  /**
   * The error a call guarded now would fail fast with, or `null` if it would be made: for a caller that must
   * wait (for rate budget, for its turn) before the guarded call starts, so that it need not wait only to be
   * refused. Counts nothing and takes no probe: the guard decides again when the call starts.
   *
   * @returns `BreakerOpenError` while open (or while the one probe is out), else `null`.
   */
  refusal(): BreakerOpenError | null {
    this.halfOpenIfCooledDown();
    const state = this.current.value;
    return state === 'open' || (state === 'half-open' && this.probeOut) ? new BreakerOpenError(this.reopensAt) : null;
  }

  /**
   * Drops the cool-down timer (the state is still worked out from the clock when the next call comes), so a
   * finished run leaves nothing scheduled behind it.
   */
  dispose(): void {
    this.cooldown?.unsubscribe();
    this.cooldown = null;
  }

  private succeeded(probe: boolean, counts: boolean): void {
    if (!counts) {
      // Proves nothing about what failed: a probe hands the next call the chance to probe.
      if (probe) this.probeOut = false;
      return;
    }
    if (probe) this.close();
    // A call that started before the breaker opened says nothing about the service now.
    else if (this.current.value === 'closed') this.consecutiveFailures = 0;
  }

  private failed(error: unknown, probe: boolean): void {
    const state = this.current.value;
    if (!probe && state !== 'closed') return;
    if (this.policy.opensAtOnce(error)) {
      this.open();
    } else if (!this.policy.counts(error)) {
      if (probe) this.probeOut = false;
    } else if (probe) {
      this.open();
    } else {
      this.consecutiveFailures++;
      if (this.consecutiveFailures >= this.policy.failureThreshold) this.open();
    }
  }

  private open(): void {
    this.cooldown?.unsubscribe();
    this.consecutiveFailures = 0;
    this.probeOut = false;
    this.reopensAt = this.scheduler.now() + this.policy.cooldownMs;
    this.current.next('open');
    this.cooldown = this.scheduler.schedule(() => {
      this.cooldown = null;
      this.halfOpenIfCooledDown();
    }, this.policy.cooldownMs);
  }

  private close(): void {
    this.cooldown?.unsubscribe();
    this.cooldown = null;
    this.consecutiveFailures = 0;
    this.probeOut = false;
    this.current.next('closed');
  }

  private halfOpenIfCooledDown(): void {
    if (this.current.value === 'open' && this.scheduler.now() >= this.reopensAt) {
      this.cooldown?.unsubscribe();
      this.cooldown = null;
      this.current.next('half-open');
    }
  }
}

/**
 * Guards calls with one circuit breaker shared by every use of the returned operator.
 *
 * Intuition: `const guarded = circuitBreaker(policy)`, then `call.pipe(guarded)` for each call to one service.
 * See `CircuitBreaker` for the states and `CircuitBreaker.guard` for the marble diagram and the behaviour on
 * complete and on error. Use the class when the state (`state$`) must be watched.
 *
 * @param policy Threshold, cool-down and which failures count or open at once.
 * @param scheduler Clock and timer for the cool-down.
 * @returns An operator for any call type; all its uses share one breaker.
 */
export function circuitBreaker(
  policy: BreakerPolicy,
  scheduler: SchedulerLike = asyncScheduler,
): <T>(call: Observable<T>) => Observable<T> {
  const breaker = new CircuitBreaker(policy, scheduler);
  return <T>(call: Observable<T>) => call.pipe(breaker.guard<T>());
}
