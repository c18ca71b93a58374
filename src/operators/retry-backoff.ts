import { type MonoTypeOperatorFunction, type SchedulerLike, asyncScheduler, retry, throwError, timer } from 'rxjs';

/** When and how often to try again. */
export interface BackoffPolicy {
  /** Total attempts including the first (1 = no retry). */
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  /** 0..1: the share of each delay that is randomised. */
  readonly jitter: number;
  /** [0, 1); injectable so tests are exact. Default `Math.random`. */
  readonly random?: () => number;
  /** Whether to try again after `error`, the failure of attempt number `attempt` (1 = the first attempt). */
  readonly shouldRetry: (error: unknown, attempt: number) => boolean;
  /**
   * A delay the error itself demands (e.g. `ExchangeError.retryAt - now`); it wins if larger than the backoff,
   * and it is not capped by `maxDelayMs` (the exchange said when).
   */
  readonly minDelayFor?: (error: unknown, now: number) => number | undefined;
}

/**
 * The delay before retry number `retry` (1 = the first retry), in whole milliseconds:
 * `min(maxDelayMs, initialDelayMs · multiplier^(retry-1))`, then jittered to
 * `delay · (1 - jitter + 2·jitter·random())`, capped again at `maxDelayMs`.
 *
 * Pure apart from `policy.random`; for logs ("retrying in …") and tests.
 *
 * @param policy The backoff policy.
 * @param retry 1 for the first retry.
 * @returns Milliseconds, never negative.
 */
export function backoffDelay(policy: BackoffPolicy, retry: number): number {
  const exponential = policy.initialDelayMs * Math.pow(policy.multiplier, Math.max(0, retry - 1));
  const base = Math.min(policy.maxDelayMs, exponential);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  const random = jitter > 0 ? (policy.random ?? Math.random)() : 0.5;
  const jittered = Math.min(policy.maxDelayMs, base * (1 - jitter + 2 * jitter * random));
  // A policy with NaN or infinite figures must not turn into a timer that fires at once or never.
  return Number.isFinite(jittered) ? Math.max(0, Math.round(jittered)) : Math.max(0, policy.maxDelayMs);
}

/**
 * Resubscribes to the source when it errors with an error the policy calls retryable, after an exponential,
 * jittered, capped delay.
 *
 * Intuition: `retry({ count, delay })` with the delay computed per attempt and a say for the error itself.
 *
 * source:    --#                              (every attempt)
 *   retryBackoff({ maxAttempts: 3, initialDelayMs: 10, multiplier: 2, jitter: 0, ... })
 * attempts:  ^-!  10ms  ^-!  20ms  ^-!           (subscribed at 0, 12 and 34 ms)
 * result:    ------------------------------------#    (the third error, at 36 ms)
 *
 * A value or completion of the source goes through unchanged. An error is rethrown at once when
 * `shouldRetry` says no, and after the last attempt. Every attempt resubscribes the whole source: a `tap`
 * or `startWith` upstream runs again per attempt, so side effects that must happen once belong downstream.
 * The attempt counter covers the whole subscription: it is not reset by values.
 *
 * @param policy Attempts, delays, jitter and which errors are retryable.
 * @param scheduler Clock and timers for the delays.
 * @returns The source, retried.
 */
export function retryBackoff<T>(policy: BackoffPolicy, scheduler: SchedulerLike = asyncScheduler): MonoTypeOperatorFunction<T> {
  return retry<T>({
    count: Math.max(0, Math.floor(policy.maxAttempts) - 1),
    delay: (error: unknown, retryCount: number) => {
      // retryCount is the number of the retry about to happen, which is also the number of the attempt that failed.
      if (!policy.shouldRetry(error, retryCount)) return throwError(() => error);
      const demanded = policy.minDelayFor?.(error, scheduler.now());
      const backoff = backoffDelay(policy, retryCount);
      const delay =
        demanded !== undefined && Number.isFinite(demanded) && demanded > backoff ? Math.ceil(demanded) : backoff;
      return timer(delay, scheduler);
    },
  });
}
