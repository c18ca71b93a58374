import { type Decimal } from 'decimal.js';
import {
  EMPTY,
  type Observable,
  catchError,
  concat,
  connect,
  distinctUntilChanged,
  exhaustMap,
  filter,
  first,
  map,
  of,
  startWith,
  switchMap,
  timer,
} from 'rxjs';
import { type QuoteEvent } from '../model/feed';
import { type Side } from '../model/signal';
import { type ExchangeDeps } from './deps';
import { type LastPrice } from './last-price';
import { activeFeed } from './order-merge';

/**
 * The last trade price of a pair: from the push feed's ticker while it is up, else read from the REST ticker
 * every `protection.takeProfitPollMs`.
 *
 * feed:   ───u──q──q─────d──────────u─q─    (u up, q a quote of the pair, d down)
 * timer:  t────           t────t────         polling only while the feed is not up (and before it first is)
 * result: p───────p──p─────p────p───────p
 *
 * switchMap on the feed's up/down: a quote is told as it comes while up; when the feed goes down (or fails,
 * or completes) polling starts again at once. Without a feed (or with `config.feed.mode: 'rest'`) it only polls.
 *
 * Reads go through the run's price reader: a read of the pair answered less than `priceMaxAgeMs` ago (or in
 * flight) is shared. exhaustMap: a tick that comes while a read is in flight is dropped rather than queued.
 * Calls go through the `monitor` lane; a failed read is skipped. Never completes by itself; unsubscribe to stop.
 *
 * @param pair Canonical pair key.
 * @param deps The run's exchange access.
 * @returns Last prices.
 */
export function watchLastPrice(pair: string, deps: ExchangeDeps): Observable<Decimal> {
  const polled$ = pollLastPrice(pair, deps);
  const feed = activeFeed(deps.config, deps.feed);
  if (!feed) return polled$;
  return feed.quotes([pair]).pipe(
    catchError((error: unknown) => {
      deps.log.warn(`ticker feed for ${pair} failed; the take-profit watch polls:`, String(error));
      return EMPTY;
    }),
    connect((events$) =>
      // The feed's health; once it ends (terminal, failed), it counts as down for good.
      concat(
        events$.pipe(
          filter((event) => event.kind === 'up' || event.kind === 'down'),
          map((event) => event.kind === 'up'),
        ),
        of(false),
      ).pipe(
        startWith(false),
        distinctUntilChanged(),
        switchMap((up) => (up ? events$.pipe(filter((e): e is Extract<QuoteEvent, { kind: 'quote' }> => e.kind === 'quote' && e.quote.pair === pair), map((e) => e.quote.last)) : polled$)),
      ),
    ),
  );
}

/** The REST side of `watchLastPrice`: a read every `protection.takeProfitPollMs`. */
function pollLastPrice(pair: string, deps: ExchangeDeps): Observable<Decimal> {
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
