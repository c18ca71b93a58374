import { type Decimal } from 'decimal.js';
import { type Observable, catchError, defer, finalize, map, of, share } from 'rxjs';
import { type Lane } from '../operators/rate-limit';
import { type ExchangeDeps } from './deps';
import { exchangeCall } from './exchange-call';

/** A pair's last trade price as read from the ticker, or why there is none. */
export type LastPrice =
  | { readonly kind: 'last'; readonly price: Decimal; /** Scheduler time the read was sent. */ readonly at: number }
  | { readonly kind: 'unavailable'; readonly reason: string };

/** The run's one way to read last prices: shared per pair, paced with the public calls. */
export interface PriceReader {
  /**
   * The pair's last price. A read answered less than `maxAgeMs` ago is handed out again; a read in flight is
   * shared by everyone who asks meanwhile; otherwise one Ticker call (through the rate gate's public counter,
   * in `lane`, guarded by the breaker). Emits once and completes; never errors (a failed read is
   * `unavailable` with the reason). Cold: nothing is read until subscribed.
   */
  last(pair: string, lane: Lane): Observable<LastPrice>;
}

/** A pair asked for within this long is refreshed along with the others in one Ticker call. */
const ASKED_LATELY_MS = 60_000;

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Last prices for a run: one Ticker call per pair at a time, reused while fresh.
 *
 * asks for XXBTZUSD:  a-b------------c      (maxAgeMs 1000; the read takes 10 ms)
 * Ticker calls:       T-------------- T     a and b share the first read; c, 1 s later, reads again
 * answers:            ----(ab)---------c
 *
 * Kraken allows about one public call a second per IP: a burst of market signals on one pair, or many
 * take-profit watches of it, must not each read the ticker. A read also asks for the other pairs asked for
 * in the last minute whose price is stale (Ticker takes a list), so a burst across pairs costs one call per
 * `maxAgeMs`, not one per pair.
 *
 * @param deps The run's exchange access (gate, breaker, scheduler, port).
 * @param maxAgeMs How long a price read is handed out again.
 * @returns The reader.
 */
export function createPriceReader(deps: ExchangeDeps, maxAgeMs: number): PriceReader {
  const fresh = new Map<string, Extract<LastPrice, { kind: 'last' }>>();
  const reading = new Map<string, Observable<LastPrice>>();
  /** When each pair was last asked for: a read also refreshes the other pairs asked for lately. */
  const asked = new Map<string, number>();

  const isFresh = (pair: string, now: number): boolean => {
    const known = fresh.get(pair);
    return known !== undefined && now - known.at < maxAgeMs;
  };

  /** The pair, and the other pairs asked for in the last minute whose price is stale and not being read. */
  const batchFor = (pair: string, now: number): string[] => {
    const batch = [pair];
    for (const [other, at] of asked) {
      if (now - at > ASKED_LATELY_MS) asked.delete(other);
      else if (other !== pair && !isFresh(other, now) && !reading.has(other)) batch.push(other);
    }
    return batch;
  };

  const read = (pair: string, lane: Lane): Observable<LastPrice> => {
    // Aged from the send, not the answer: a price is at least as old as the request that fetched it, and a
    // watch polling every `maxAgeMs` then reads afresh each time rather than every other time. Not from the
    // ask either: a read that waited for the public counter would be stale on arrival.
    let sentAt = deps.scheduler.now();
    // Kraken's Ticker takes a list of pairs for one public call: the pairs are chosen when the call is sent
    // (after its wait for the public counter), so one call serves every stale pair of a burst across pairs.
    const send = () => {
      sentAt = deps.scheduler.now();
      return deps.port.ticker(batchFor(pair, sentAt));
    };
    return exchangeCall(deps, lane, () => ({ kind: 'ticker' }), send, 'idempotent').pipe(
      map((quotes): LastPrice => {
        for (const [key, quote] of quotes) fresh.set(key, { kind: 'last', price: quote.last, at: sentAt });
        return fresh.get(pair) ?? { kind: 'unavailable', reason: `the ticker answer did not list ${pair}` };
      }),
      catchError((error: unknown) => of<LastPrice>({ kind: 'unavailable', reason: errorText(error) })),
      finalize(() => reading.delete(pair)),
      // share (refCount): everyone who asks while the read is out gets its answer; if they all leave, the call
      // is dropped, and the next ask reads afresh.
      share(),
    );
  };

  return {
    last: (pair, lane) =>
      defer(() => {
        const now = deps.scheduler.now();
        asked.set(pair, now);
        const known = fresh.get(pair);
        if (known && now - known.at < maxAgeMs) return of(known);
        let shared = reading.get(pair);
        if (!shared) {
          shared = read(pair, lane);
          reading.set(pair, shared);
        }
        return shared;
      }),
  };
}
