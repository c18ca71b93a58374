import { type Decimal } from 'decimal.js';
import { EMPTY, type Observable, catchError, exhaustMap, filter, first, map, timer } from 'rxjs';
import { type Side } from '../model/signal';
import { type ExchangeDeps } from './deps';
import { exchangeCall } from './exchange-call';

/**
 * The last trade price of a pair, read from the ticker every `protection.takeProfitPollMs`.
 *
 * timer:  t────t────t────
 * result: p────p─────────p   (a failed read is skipped; a slow one makes the next tick wait)
 *
 * exhaustMap: a tick that comes while a read is in flight is dropped rather than queued. Calls go through the
 * `monitor` lane. Never completes by itself; unsubscribe to stop.
 *
 * @param pair Canonical pair key.
 * @param deps The run's exchange access.
 * @returns Last prices.
 */
export function watchLastPrice(pair: string, deps: ExchangeDeps): Observable<Decimal> {
  return timer(0, deps.config.protection.takeProfitPollMs, deps.scheduler).pipe(
    exhaustMap(() =>
      exchangeCall(deps, 'monitor', () => ({ kind: 'ticker' }), () => deps.port.ticker([pair]), 'idempotent').pipe(
        map((quotes) => quotes.get(pair)?.last),
        catchError((error: unknown) => {
          deps.log.warn(`ticker ${pair} failed; the take-profit watch tries again:`, String(error));
          return EMPTY;
        }),
      ),
    ),
    // An answer that does not carry the pair is no price.
    filter((last): last is Decimal => last !== undefined),
  );
}

/**
 * Emits the price once the take-profit is reached, then completes: a sell exit (closing a long) at or above
 * the take-profit, a buy exit at or below it.
 *
 * prices: ─100─104─107─
 * tp = 105, exit sell
 * result: ─────────107|
 *
 * @param pair Canonical pair key.
 * @param exitSide Side of the order that takes the profit.
 * @param takeProfit Trigger price.
 * @param deps The run's exchange access.
 * @returns The price that reached it.
 */
export function takeProfitReached(pair: string, exitSide: Side, takeProfit: Decimal, deps: ExchangeDeps): Observable<Decimal> {
  return watchLastPrice(pair, deps).pipe(first((price) => (exitSide === 'sell' ? price.gte(takeProfit) : price.lte(takeProfit))));
}
