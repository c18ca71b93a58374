import { type Decimal } from 'decimal.js';
import { type Observable, exhaustMap, filter, first, map, timer } from 'rxjs';
import { type Side } from '../model/signal';
import { type ExchangeDeps } from './deps';
import { type LastPrice } from './last-price';

/**
 * The last trade price of a pair, read from the ticker every `protection.takeProfitPollMs`.
 *
 * timer:  t────t────t────
 * result: p────p─────────p   (a failed read is skipped; a slow one makes the next tick wait)
 *
 * Reads go through the run's price reader: a read of the pair answered less than `priceMaxAgeMs` ago (or in
 * flight) is shared.
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
    // The run's shared reader: watches of the same pair share a read (Kraken's public rate is per IP).
    exhaustMap(() => deps.prices.last(pair, 'monitor')),
    filter((read): read is Extract<LastPrice, { kind: 'last' }> => {
      if (read.kind === 'unavailable') deps.log.warn(`ticker ${pair} failed; the take-profit watch tries again:`, read.reason);
      return read.kind === 'last';
    }),
    map((read) => read.price),
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
