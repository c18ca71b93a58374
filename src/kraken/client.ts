import { type Decimal } from 'decimal.js';
import { type Observable, map, of, throwError } from 'rxjs';
import { type CancelOutcome, type OrderSnapshot } from '../model/order';
import { type Timers } from '../time/timers';
import { type Credentials } from './credentials';
import { classifyTransportFailure, krakenError } from './errors';
import { type BalanceExEntry, type WebSocketsToken, parseBalance, parseBalanceEx, parseWebSocketsToken } from './parse-account';
import {
  type AddOrderResult,
  type CancelAllOrdersAfterResult,
  type ClosedOrdersResult,
  parseAddOrder,
  parseCancelAllOrdersAfter,
  parseCancelOrder,
  parseClosedOrders,
  parseClosedOrdersPage,
  parseOpenOrders,
  parseQueryOrders,
} from './parse-orders';
import {
  type AssetInfo,
  type AssetPairInfo,
  type ServerTime,
  type SystemStatusInfo,
  type TickerInfo,
  parseAssetPairs,
  parseAssets,
  parseSystemStatus,
  parseTickers,
  parseTime,
} from './parse-public';
import { type PrivateLane } from './private-lane';
import { type FetchLike, type KrakenTransport, type RequestParams, createKrakenTransport } from './transport';
import { type KrakenAddOrderParams } from './wire';
import { WireFormatError } from './wire-parse';

/** Kraken's QueryOrders limit. */
export const MAX_QUERY_TXIDS = 50;

export type CancelTarget = { readonly txid: string } | { readonly cl_ord_id: string };

export interface OpenOrdersParams {
  readonly cl_ord_id?: string;
  readonly userref?: number;
  readonly trades?: boolean;
}

export interface ClosedOrdersParams {
  readonly cl_ord_id?: string;
  readonly userref?: number;
  readonly trades?: boolean;
  /** Unix seconds or a txid (exclusive). */
  readonly start?: string;
  /** Unix seconds or a txid (inclusive). */
  readonly end?: string;
  readonly ofs?: number;
  readonly closetime?: 'open' | 'close' | 'both';
}

/**
 * Kraken's REST endpoints, typed. Every method returns a cold Observable: subscribing sends the request,
 * unsubscribing aborts it; it emits the parsed result once and completes, or errors with an `ExchangeError`.
 * A response that does not parse is a `malformed` transport failure (ambiguous for a write: it may have
 * happened).
 */
export interface KrakenClient {
  readonly transport: KrakenTransport;
  addOrder(params: KrakenAddOrderParams): Observable<AddOrderResult>;
  cancelOrder(target: CancelTarget): Observable<CancelOutcome>;
  openOrders(params?: OpenOrdersParams): Observable<ReadonlyMap<string, OrderSnapshot>>;
  closedOrders(params?: ClosedOrdersParams): Observable<ClosedOrdersResult>;
  /** `closedOrders` for walking pages (`start`, `ofs`): the answer's `count` is required (`malformed` without it). */
  closedOrdersPage(params: ClosedOrdersParams): Observable<ClosedOrdersResult>;
  /** At most 50 txids; none gives an empty map without a call. */
  queryOrders(txids: readonly string[], params?: { readonly trades?: boolean }): Observable<ReadonlyMap<string, OrderSnapshot>>;
  assetPairs(pairs?: readonly string[]): Observable<ReadonlyMap<string, AssetPairInfo>>;
  assets(assets?: readonly string[]): Observable<ReadonlyMap<string, AssetInfo>>;
  ticker(pairs?: readonly string[]): Observable<ReadonlyMap<string, TickerInfo>>;
  time(): Observable<ServerTime>;
  systemStatus(): Observable<SystemStatusInfo>;
  balance(): Observable<ReadonlyMap<string, Decimal>>;
  balanceEx(): Observable<ReadonlyMap<string, BalanceExEntry>>;
  cancelAll(): Observable<CancelOutcome>;
  /** Kraken's dead man's switch: cancel everything after `timeoutSeconds` (0 disarms it). */
  cancelAllOrdersAfter(timeoutSeconds: number): Observable<CancelAllOrdersAfterResult>;
  /** A token for the WebSocket API's private channels and methods (one per connection; unused, it expires in 15 min). */
  getWebSocketsToken(): Observable<WebSocketsToken>;
}

export interface KrakenClientOptions {
  /** e.g. `https://api.kraken.com` or the paper exchange's URL. */
  readonly url: string;
  /** Needed for private endpoints. */
  readonly credentials?: Credentials;
  readonly timeoutMs: number;
  readonly fetch?: FetchLike;
  /** The private-call queue to use; by default the one shared by every client of the key in this process. */
  readonly lane?: PrivateLane;
  readonly userAgent?: string;
  /** Epoch ms for deadline checks at sending (the paper exchange may run on an accelerated clock). */
  readonly clock?: () => number;
  /** The request timeout's timer (an end-to-end run passes its virtual clock's). */
  readonly timers?: Timers;
}

/** Parses a result; a result that does not read as Kraken's becomes a classified `malformed` failure. */
const parsedWith =
  <T>(endpoint: string, parse: (result: unknown) => T) =>
  (source: Observable<unknown>): Observable<T> =>
    source.pipe(
      map((result) => {
        try {
          return parse(result);
        } catch (error) {
          if (error instanceof WireFormatError) {
            throw classifyTransportFailure({ type: 'malformed', status: 200, detail: error.message }, endpoint);
          }
          throw error;
        }
      }),
    );

const flag = (value: boolean | undefined): string | undefined => (value === true ? 'true' : undefined);
const list = (values: readonly string[] | undefined): string | undefined =>
  values === undefined || values.length === 0 ? undefined : values.join(',');

const closedOrdersForm = (params: ClosedOrdersParams): RequestParams => ({
  cl_ord_id: params.cl_ord_id,
  userref: params.userref,
  trades: flag(params.trades),
  start: params.start,
  end: params.end,
  ofs: params.ofs,
  closetime: params.closetime,
});

/** Kraken's REST client over a transport. */
export function krakenClientOver(transport: KrakenTransport): KrakenClient {
  const get = <T>(method: string, parse: (result: unknown) => T, params?: RequestParams): Observable<T> =>
    transport.publicGet(method, params).pipe(parsedWith(method, parse));
  const post = <T>(method: string, parse: (result: unknown) => T, params?: RequestParams): Observable<T> =>
    transport.privatePost(method, params).pipe(parsedWith(method, parse));

  return {
    transport,
    addOrder: (params) => post('AddOrder', parseAddOrder, { ...params }),
    cancelOrder: (target) => post('CancelOrder', (result) => parseCancelOrder(result, 'CancelOrder'), { ...target }),
    openOrders: (params = {}) =>
      post('OpenOrders', parseOpenOrders, { cl_ord_id: params.cl_ord_id, userref: params.userref, trades: flag(params.trades) }),
    closedOrders: (params = {}) => post('ClosedOrders', parseClosedOrders, closedOrdersForm(params)),
    closedOrdersPage: (params) => post('ClosedOrders', parseClosedOrdersPage, closedOrdersForm(params)),
    queryOrders: (txids, params = {}) => {
      if (txids.length === 0) return of(new Map<string, OrderSnapshot>());
      if (txids.length > MAX_QUERY_TXIDS) {
        return throwError(
          () =>
            krakenError({
              kind: 'refused',
              codes: [`QueryOrders takes at most ${MAX_QUERY_TXIDS} txids, got ${txids.length}`],
              endpoint: 'QueryOrders',
            }),
        );
      }
      return post('QueryOrders', parseQueryOrders, { txid: txids.join(','), trades: flag(params.trades) });
    },
    assetPairs: (pairs) => get('AssetPairs', parseAssetPairs, { pair: list(pairs) }),
    assets: (assets) => get('Assets', parseAssets, { asset: list(assets) }),
    ticker: (pairs) => get('Ticker', parseTickers, { pair: list(pairs) }),
    time: () => get('Time', parseTime),
    systemStatus: () => get('SystemStatus', parseSystemStatus),
    balance: () => post('Balance', parseBalance),
    balanceEx: () => post('BalanceEx', parseBalanceEx),
    getWebSocketsToken: () => post('GetWebSocketsToken', parseWebSocketsToken),
    cancelAll: () => post('CancelAll', (result) => parseCancelOrder(result, 'CancelAll')),
    cancelAllOrdersAfter: (timeoutSeconds) => {
      if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 0 || timeoutSeconds >= 86_400) {
        return throwError(
          () =>
            krakenError({
              kind: 'refused',
              codes: [`CancelAllOrdersAfter timeout must be whole seconds in 0..86399, got ${timeoutSeconds}`],
              endpoint: 'CancelAllOrdersAfter',
            }),
        );
      }
      return post('CancelAllOrdersAfter', parseCancelAllOrdersAfter, { timeout: timeoutSeconds });
    },
  };
}

/**
 * A Kraken REST client.
 *
 * @param options the base URL (Kraken or the paper exchange), credentials, request timeout, and optionally fetch
 */
export function createKrakenClient(options: KrakenClientOptions): KrakenClient {
  return krakenClientOver(
    createKrakenTransport({
      baseUrl: options.url,
      timeoutMs: options.timeoutMs,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.lane ? { lane: options.lane } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.userAgent ? { userAgent: options.userAgent } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.timers ? { timers: options.timers } : {}),
    }),
  );
}
