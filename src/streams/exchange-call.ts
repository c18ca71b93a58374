import { type Observable, defer, dematerialize, finalize, ignoreElements, materialize, merge, take, tap, throwError } from 'rxjs';
import { type PortCall, type RateCost } from '../model/budget';
import { type ExchangeError, isExchangeError } from '../model/errors';
import { type ExecutionFeed, type FeedCallGate } from '../model/feed';
import { isBreakerOpenError } from '../operators/circuit-breaker';
import { type Lane } from '../operators/rate-limit';
import { type BackoffPolicy, retryBackoff } from '../operators/retry-backoff';
import { type ExchangeDeps } from './deps';

/**
 * `idempotent`: repeating the call does no harm (reads; a cancel, which at worst answers "unknown order"), so
 * an ambiguous failure is simply retried. `once`: a write that may have happened (AddOrder) is never repeated
 * blindly: an ambiguous failure goes back to the caller to resolve.
 */
export type CallEffect = 'idempotent' | 'once';

/**
 * Which counter a rate-limit error is about (the port says: `error.facts.limiter`). A throttle with a retry time
 * is about concurrency, not a counter: the wait is enough.
 */
function snapCostOf(error: ExchangeError, cost: RateCost): RateCost | null {
  // A public call refused by the REST limiter is about the per-IP public counter, not the key's REST counter.
  if (cost.public && error.facts.limiter === 'rest') return { rest: 0, public: cost.public };
  if (error.facts.limiter === 'rest') return { rest: Math.max(1, cost.rest) };
  if (error.facts.limiter === 'trading') return cost.trading ? { rest: 0, trading: cost.trading } : null;
  return error.retryAt === undefined ? cost : null;
}

/** Kraken's private calls (signed, one queue per key, the feed's token call too); ticker and pairs are public and never queue. */
const isPrivate = (call: PortCall): boolean => call.kind !== 'ticker' && call.kind !== 'pairs';

/**
 * The retry policy of one call. An invalid nonce is retried once (the port signs again with a fresh nonce);
 * a second one in a row means something else is wrong. A call refused by the open breaker (nothing was sent)
 * is tried again after the cool-down when it reduces risk (a cancel, a protective or closing order).
 *
 * A persistent call (`persisting()` says whether it still is) retries every refusal that proves nothing was
 * done (retryable, rate-limited, invalid nonce, open breaker), and for an idempotent call an ambiguous failure
 * too, with no limit on attempts: giving up on a protective order leaves a position unprotected. Once it stops
 * persisting (the run is stopping), the usual limits apply again, from its next failure: a call past them then
 * ends with that failure (the retry already waiting is still sent: for a protective order's placement, that
 * last try may be what protects the position).
 */
function retryPolicyOf(deps: ExchangeDeps, effect: CallEffect, waitOutBreaker: boolean, persisting: () => boolean): BackoffPolicy {
  const { maxAttempts } = deps.config.retry;
  let nonceRetries = 0;
  return {
    ...deps.config.retry,
    // The limit is applied below, so that a persistent call can go past it.
    maxAttempts: Number.POSITIVE_INFINITY,
    random: deps.random,
    shouldRetry: (error, attempt) => {
      const persistent = persisting();
      const withinLimit = persistent || attempt < maxAttempts;
      if (isBreakerOpenError(error)) return (waitOutBreaker || persistent) && withinLimit;
      if (!isExchangeError(error)) return false;
      const nothingDone = error.kind === 'retryable' || error.kind === 'rate-limited';
      const retry = error.facts.nonceRejected && !persistent
        ? nonceRetries++ < 1
        : nothingDone || (effect === 'idempotent' && error.kind === 'ambiguous');
      if (retry && withinLimit) {
        const limit = persistent ? '(no limit until the run stops)' : `of ${maxAttempts}`;
        deps.log.info(`${error.message} (${error.kind}); retrying with backoff after attempt ${attempt} ${limit}`);
      }
      return retry && withinLimit;
    },
    minDelayFor: (error, now) => {
      if (isBreakerOpenError(error)) return error.reopensAt - now;
      return isExchangeError(error) && error.retryAt !== undefined ? error.retryAt - now : undefined;
    },
  };
}

/** How one call is retried beyond the run's retry config. */
export interface CallOptions {
  /**
   * When the breaker is open, wait for its probe instead of failing (counts as an attempt); for calls that
   * reduce risk.
   */
  readonly waitOutBreaker?: boolean;
  /**
   * Keep retrying refusals that prove nothing was done (retryable, rate-limited, invalid nonce, open breaker;
   * for an idempotent call, ambiguous failures too), with the capped backoff and no limit on attempts, until
   * this emits (the run is stopping); from then on the run's `retry.maxAttempts` applies, from the next failure. For protective and exit orders: giving up leaves a position
   * unprotected.
   */
  readonly persistUntil$?: Observable<unknown>;
}

/**
 * One call to the exchange as the streams make it: fail fast if the circuit breaker is open; wait for the rate
 * budget in `lane` (and, for a private call, for the gate's private-call slot, held until the call ends); go
 * through the circuit breaker at that moment (it may have opened meanwhile), send; on a rate-limit error snap
 * the budget; retry what the policy allows.
 *
 * budget/attempts:  acquire ─ send ─ # (retryable) ─ backoff ─ acquire ─ send ─ v|
 * result:           ─────────────────────────────────────────────────────────── v|
 *
 * Cold: every subscription is a new call with a fresh retry count. Emits what the port emits; errors with the
 * last error when it is not retried (or no attempts are left), or with the breaker's `BreakerOpenError`.
 *
 * @param deps The run's gate, breaker, budget costs, retry config and scheduler.
 * @param lane Priority lane of the call.
 * @param call What is called, for its rate cost (computed when subscribed: a cancel's cost depends on age).
 * @param send The port call itself.
 * @param effect `idempotent` retries ambiguous failures too; `once` never does.
 * @param options `waitOutBreaker`: when the breaker is open, wait for its probe instead of failing (counts as
 *   an attempt); for calls that reduce risk. `persistUntil$`: retry what proves nothing was done without a
 *   limit on attempts until it emits.
 * @returns The port's answer.
 */
export function exchangeCall<T>(
  deps: ExchangeDeps,
  lane: Lane,
  call: () => PortCall,
  send: () => Observable<T>,
  effect: CallEffect,
  options: CallOptions = {},
): Observable<T> {
  return defer(() => {
    const attempt$ = defer(() => {
      // Fail fast while the breaker is open rather than wait for budget only to be refused.
      const refused = deps.breaker.refusal();
      if (refused) return throwError(() => refused);
      const portCall = call();
      const cost = deps.costs(portCall);
      const askedAt = deps.scheduler.now();
      const released = defer(() => {
        const waited = deps.scheduler.now() - askedAt;
        if (waited >= 1000) deps.log.info(`${portCall.kind}: waited ${waited} ms for the rate budget (${lane} lane)`);
        return send();
      });
      // A private call is charged only when it really goes out: the port sends private calls one at a time.
      // The breaker guards the call at that moment, not when it was asked for: a call that waited its turn
      // while the breaker opened is not sent (it stays charged, which errs on the safe side).
      // A public call's success (market data answering) says nothing about the private calls the breaker
      // counts failures of: it must not reset their count. Its failure counts like any other.
      const isPrivateCall = isPrivate(portCall);
      const guarded = deps.breaker.guard<T>({ successCounts: isPrivateCall });
      // Only a nonce-signed REST call queues in the client's private lane; an order over the socket (token, no
      // nonce) must not wait behind a stuck REST call. It is charged the same (the trading counter is shared).
      const exclusive = isPrivateCall && (deps.port.transportOf?.(portCall.kind) ?? 'rest') === 'rest';
      return deps.gate.run(cost, lane, () => released.pipe(guarded), { exclusive }).pipe(
        tap({
          error: (error: unknown) => {
            if (!isExchangeError(error) || error.kind !== 'rate-limited') return;
            const snap = snapCostOf(error, cost);
            if (snap) deps.gate.snap(snap);
            deps.log.warn(`${error.endpoint}: rate limited, backing off (${deps.gate.queued} calls queued)`);
          },
        }),
      );
    });
    const persistUntil$ = options.persistUntil$;
    if (!persistUntil$) {
      return attempt$.pipe(retryBackoff<T>(retryPolicyOf(deps, effect, options.waitOutBreaker ?? false, () => false), deps.scheduler));
    }
    let persisting = true;
    const policy = retryPolicyOf(deps, effect, options.waitOutBreaker ?? false, () => persisting);
    const stopPersisting$ = persistUntil$.pipe(
      take(1),
      tap(() => (persisting = false)),
      ignoreElements(),
    );
    // The call's notifications as values, so that its end (not the never-ending watch) ends the result;
    // the watch is subscribed first, so a stop already under way is seen before the first attempt.
    return merge(stopPersisting$, attempt$.pipe(retryBackoff<T>(policy, deps.scheduler), materialize())).pipe(
      dematerialize(),
    );
  });
}

/**
 * The feed, with its own REST calls (a WebSocket token per connection) made as `exchangeCall`s of this run while
 * its executions are subscribed: charged to the rate gate, sent in the gate's private-call slot, guarded by the
 * breaker and counted by it, retried as an idempotent read. A token call that keeps failing opens the breaker
 * like any private call; while it is open the token is refused without a request (the feed stays down, REST
 * polling takes over, and the feed's reconnect backoff tries again).
 *
 * executions():  ^───────────────!        (the run's subscription)
 * token calls:   ──g──────g───────t──     (g: through the run's gate; t: straight, once it left)
 *
 * @param deps The run's gate, breaker, budget costs, retry config and scheduler.
 * @param feed The push feed (unchanged when it makes no REST calls of its own).
 * @returns The feed, its executions subscriptions installing the run's gate.
 */
export function feedThroughGate(deps: ExchangeDeps, feed: ExecutionFeed): ExecutionFeed {
  const guardCalls = feed.guardCalls?.bind(feed);
  if (!guardCalls) return feed;
  const gate: FeedCallGate = (call, send) => exchangeCall(deps, 'monitor', () => call, send, 'idempotent');
  return {
    executions: () =>
      defer(() => {
        const release = guardCalls(gate);
        return feed.executions().pipe(finalize(release));
      }),
    quotes: (pairs) => feed.quotes(pairs),
    placeOrder: (request) => feed.placeOrder(request),
    cancelOrder: (ref) => feed.cancelOrder(ref),
    guardCalls,
  };
}
