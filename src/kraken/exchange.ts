import { type Decimal } from 'decimal.js';
import { type Observable, defer, map, throwError } from 'rxjs';
import { type ExchangeError } from '../model/errors';
import {
  type CancelOutcome,
  type OrderRequest,
  type OrderSnapshot,
  type PlacedOrder,
  type Quote,
} from '../model/order';
import { type PairBook } from '../model/pair';
import { type ClosedOrdersPage, type ExchangePort, type OrderRef } from '../model/port';
import { type KrakenClient, type KrakenClientOptions, MAX_QUERY_TXIDS, createKrakenClient } from './client';
import { pairBookFromAssetPairs } from './pairs';
import { type KrakenAddOrderParams } from './wire';
import { krakenError } from './errors';

const refused = (endpoint: string, reason: string): ExchangeError =>
  krakenError({ kind: 'refused', codes: [reason], endpoint });

/** A positive, finite decimal, or the reason it is not one; checked before anything is sent. */
const badAmount = (name: string, value: Decimal | undefined): string | undefined =>
  value === undefined || (value.isFinite() && value.gt(0)) ? undefined : `${name} must be a positive number, got ${value.toString()}`;

/**
 * The AddOrder form fields for an order request. Amounts go out as plain decimal strings (never exponent
 * notation); `validate` is sent only when true, because Kraken has treated `validate=false` as validate-only.
 *
 * @throws ExchangeError (`refused`) when the request cannot be expressed (non-positive amounts, bad deadline)
 */
export function addOrderParamsOf(request: OrderRequest): KrakenAddOrderParams {
  const problem =
    badAmount('volume', request.volume) ?? badAmount('price', request.price) ?? badAmount('price2', request.price2);
  if (problem) throw refused('AddOrder', problem);
  if (request.deadline !== undefined && !Number.isFinite(request.deadline)) {
    throw refused('AddOrder', `deadline must be epoch milliseconds, got ${request.deadline}`);
  }
  return {
    pair: request.pair,
    type: request.side,
    ordertype: request.orderType,
    volume: request.volume.toFixed(),
    ...(request.price !== undefined ? { price: request.price.toFixed() } : {}),
    ...(request.price2 !== undefined ? { price2: request.price2.toFixed() } : {}),
    cl_ord_id: request.clientOrderId,
    ...(request.postOnly === true ? { oflags: 'post' } : {}),
    ...(request.timeInForce !== undefined ? { timeinforce: request.timeInForce } : {}),
    ...(request.deadline !== undefined ? { deadline: new Date(request.deadline).toISOString() } : {}),
    ...(request.validate === true ? { validate: 'true' as const } : {}),
  };
}

/**
 * Kraken behind the `ExchangePort` the streams use. Every method is a cold Observable (subscribe sends,
 * unsubscribe aborts) that emits once and completes, or errors with an `ExchangeError`.
 */
export class KrakenExchange implements ExchangePort {
  constructor(readonly client: KrakenClient) {}

  placeOrder(request: OrderRequest): Observable<PlacedOrder> {
    return defer(() => this.client.addOrder(addOrderParamsOf(request))).pipe(
      map((result) => {
        const txid = result.txids[0];
        if (txid === undefined && request.validate !== true) {
          // Kraken accepted something but did not say what: the order may exist.
          throw krakenError({ kind: 'ambiguous', codes: ['AddOrder answered without a txid'], endpoint: 'AddOrder' });
        }
        return { txid: txid ?? '', clientOrderId: request.clientOrderId, description: result.description };
      }),
    );
  }

  cancelOrder(ref: OrderRef): Observable<CancelOutcome> {
    return this.client.cancelOrder('txid' in ref ? { txid: ref.txid } : { cl_ord_id: ref.clientOrderId });
  }

  queryOrders(txids: readonly string[]): Observable<ReadonlyMap<string, OrderSnapshot>> {
    if (txids.length > MAX_QUERY_TXIDS) {
      return throwError(() => refused('QueryOrders', `QueryOrders takes at most ${MAX_QUERY_TXIDS} txids, got ${txids.length}`));
    }
    return this.client.queryOrders(txids);
  }

  openOrders(filter?: { readonly clientOrderId?: string }): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return this.client.openOrders(filter?.clientOrderId !== undefined ? { cl_ord_id: filter.clientOrderId } : {});
  }

  /** The most recent page (50) of closed orders, or those with the client order id. */
  closedOrders(filter?: { readonly clientOrderId?: string }): Observable<ReadonlyMap<string, OrderSnapshot>> {
    return this.client
      .closedOrders(filter?.clientOrderId !== undefined ? { cl_ord_id: filter.clientOrderId } : {})
      .pipe(map((page) => page.orders));
  }

  /**
   * A page of the closed orders opened or closed after `startMs` (`start` in whole unix seconds, rounded down so
   * nothing after `startMs` is left out), from `offset` (`ofs`); `count` is required of the answer.
   */
  closedOrdersSince(startMs: number, offset: number): Observable<ClosedOrdersPage> {
    if (!Number.isFinite(startMs) || !Number.isInteger(offset) || offset < 0) {
      return throwError(() => refused('ClosedOrders', `start must be epoch ms and ofs a whole number >= 0, got ${startMs} and ${offset}`));
    }
    return this.client.closedOrdersPage({ start: String(Math.floor(startMs / 1000)), ofs: offset });
  }

  /** Best bid, ask and last trade, keyed by pair key (whatever name the pairs were asked by). */
  ticker(pairs: readonly string[]): Observable<ReadonlyMap<string, Quote>> {
    return this.client.ticker(pairs).pipe(
      map((tickers) => {
        const quotes = new Map<string, Quote>();
        for (const [key, ticker] of tickers) {
          quotes.set(key, { pair: key, bid: ticker.bid.price, ask: ticker.ask.price, last: ticker.last.price });
        }
        return quotes;
      }),
    );
  }

  pairs(): Observable<PairBook> {
    return this.client.assetPairs().pipe(map((pairs) => pairBookFromAssetPairs(pairs)));
  }
}

/**
 * The Kraken `ExchangePort` over a new client.
 *
 * @param options the base URL (Kraken or the paper exchange), credentials, request timeout, and optionally fetch
 */
export function createKrakenExchange(options: KrakenClientOptions): KrakenExchange {
  return new KrakenExchange(createKrakenClient(options));
}
