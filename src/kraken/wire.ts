/**
 * Kraken's REST JSON exactly as it travels (kraken-api.md §3–§5): string-typed numbers, pair keys, unix-second
 * timestamps. The paper exchange builds its responses from these types; the client reads responses with the
 * parsers in `parse-*.ts`, which accept extra fields and name any missing one.
 */

/** `{"error": [...], "result": ...}` — `result` is absent or null when `error` holds an `E…` string. */
export interface KrakenEnvelope<T> {
  readonly error: readonly string[];
  readonly result?: T | null;
}

export type KrakenSide = 'buy' | 'sell';

export type KrakenOrderType =
  | 'market'
  | 'limit'
  | 'iceberg'
  | 'stop-loss'
  | 'take-profit'
  | 'stop-loss-limit'
  | 'take-profit-limit'
  | 'trailing-stop'
  | 'trailing-stop-limit'
  | 'settle-position';

export type KrakenOrderStatus = 'pending' | 'open' | 'closed' | 'canceled' | 'expired';

// ---------------------------------------------------------------------------------------------- public

/** `GET /0/public/Time` */
export interface KrakenTimeWire {
  readonly unixtime: number;
  readonly rfc1123: string;
}

export type KrakenSystemStatus = 'online' | 'maintenance' | 'cancel_only' | 'post_only';

/** `GET /0/public/SystemStatus` */
export interface KrakenSystemStatusWire {
  readonly status: KrakenSystemStatus;
  /** RFC3339, e.g. `2023-07-06T18:52:00Z`. */
  readonly timestamp: string;
}

/** One entry of `GET /0/public/Assets`, keyed by asset id (`XXBT`, `ZUSD`, `SOL`). */
export interface KrakenAssetWire {
  readonly aclass: string;
  readonly altname: string;
  readonly decimals: number;
  readonly display_decimals: number;
  readonly collateral_value?: number;
  readonly status?: string;
}

export type KrakenAssetsWire = Readonly<Record<string, KrakenAssetWire>>;

/** A fee schedule row: `[30-day volume, percent]`, JSON numbers. */
export type KrakenFeeTierWire = readonly [number, number];

/** One entry of `GET /0/public/AssetPairs`, keyed by pair key (`XXBTZUSD`). */
export interface KrakenAssetPairWire {
  readonly altname: string;
  /** Absent on some pairs (e.g. dark-pool `.d` pairs). */
  readonly wsname?: string;
  readonly aclass_base: string;
  readonly base: string;
  readonly aclass_quote: string;
  readonly quote: string;
  readonly lot?: string;
  readonly cost_decimals: number;
  readonly pair_decimals: number;
  readonly lot_decimals: number;
  /** Missing on some live rows; 1 when absent. */
  readonly lot_multiplier?: number;
  readonly leverage_buy?: readonly number[];
  readonly leverage_sell?: readonly number[];
  readonly fees?: readonly KrakenFeeTierWire[];
  readonly fees_maker?: readonly KrakenFeeTierWire[];
  readonly fee_volume_currency?: string;
  readonly margin_call?: number;
  readonly margin_stop?: number;
  readonly ordermin: string;
  readonly costmin?: string;
  readonly tick_size?: string;
  /** Missing on ~13% of live rows; `online` when absent. */
  readonly status?: 'online' | 'cancel_only' | 'post_only' | 'limit_only' | 'reduce_only';
  readonly long_position_limit?: number;
  readonly short_position_limit?: number;
}

export type KrakenAssetPairsWire = Readonly<Record<string, KrakenAssetPairWire>>;

/** One entry of `GET /0/public/Ticker`, keyed by pair key. */
export interface KrakenTickerWire {
  /** Ask `[price, whole lot volume, lot volume]`. */
  readonly a: readonly [string, string, string];
  /** Bid `[price, whole lot volume, lot volume]`. */
  readonly b: readonly [string, string, string];
  /** Last trade `[price, lot volume]`. */
  readonly c: readonly [string, string];
  /** Volume `[today, last 24 h]`. */
  readonly v: readonly [string, string];
  /** VWAP `[today, last 24 h]`. */
  readonly p: readonly [string, string];
  /** Trade count `[today, last 24 h]`. */
  readonly t: readonly [number, number];
  readonly l: readonly [string, string];
  readonly h: readonly [string, string];
  readonly o: string;
}

export type KrakenTickersWire = Readonly<Record<string, KrakenTickerWire>>;

// --------------------------------------------------------------------------------------------- private

/** `descr` of an order object. */
export interface KrakenOrderDescrWire {
  /** The pair's altname, e.g. `XBTUSD` (trades use the key instead). */
  readonly pair: string;
  readonly type: KrakenSide;
  readonly ordertype: KrakenOrderType;
  /** Limit price (limit) or trigger price (stop / take-profit types); `"0"` for market. */
  readonly price: string;
  /** Limit price of a triggered -limit order; `"0"` otherwise. */
  readonly price2: string;
  readonly leverage: string;
  /** Human description, e.g. `buy 1.25000000 XBTUSD @ limit 30010.0`. */
  readonly order: string;
  readonly close: string;
}

/** An order object in OpenOrders / ClosedOrders / QueryOrders, keyed by txid. */
export interface KrakenOrderWire {
  readonly refid: string | null;
  readonly userref: number | null;
  readonly cl_ord_id?: string | null;
  readonly status: KrakenOrderStatus;
  readonly reason: string | null;
  /** Unix seconds with fraction. */
  readonly opentm: number;
  readonly closetm?: number;
  readonly starttm: number;
  readonly expiretm: number;
  readonly descr: KrakenOrderDescrWire;
  readonly vol: string;
  readonly vol_exec: string;
  readonly cost: string;
  readonly fee: string;
  /** Average execution price. */
  readonly price: string;
  readonly stopprice: string;
  readonly limitprice: string;
  readonly trigger?: 'last' | 'index';
  readonly margin?: boolean;
  /** Comma list: `stopped`, `touched`, `liquidated`, `partial`, `amended`. */
  readonly misc: string;
  /** Comma list, e.g. `post,fciq`. */
  readonly oflags: string;
  readonly trades?: readonly string[];
}

export type KrakenOrdersWire = Readonly<Record<string, KrakenOrderWire>>;

/** `POST /0/private/AddOrder` result. `txid` is absent for `validate=true`. */
export interface KrakenAddOrderWire {
  readonly descr: { readonly order: string; readonly close?: string };
  readonly txid?: readonly string[];
}

/** `POST /0/private/CancelOrder` and `CancelAll` result. */
export interface KrakenCancelOrderWire {
  readonly count: number;
  readonly pending?: boolean;
}

/** `POST /0/private/OpenOrders` result. */
export interface KrakenOpenOrdersWire {
  readonly open: KrakenOrdersWire;
}

/** `POST /0/private/ClosedOrders` result: one page (50, newest first) and the grand total. */
export interface KrakenClosedOrdersWire {
  readonly closed: KrakenOrdersWire;
  readonly count: number;
}

/** `POST /0/private/QueryOrders` result: txid → order. */
export type KrakenQueryOrdersWire = KrakenOrdersWire;

/** `POST /0/private/CancelAllOrdersAfter` result (RFC3339 times). */
export interface KrakenCancelAllOrdersAfterWire {
  readonly currentTime: string;
  readonly triggerTime: string;
}

/** `POST /0/private/Balance` result: asset id → total balance. */
export type KrakenBalanceWire = Readonly<Record<string, string>>;

/** One entry of `POST /0/private/BalanceEx`. Available = balance + credit − credit_used − hold_trade. */
export interface KrakenBalanceExEntryWire {
  readonly balance: string;
  readonly hold_trade: string;
  readonly credit?: string;
  readonly credit_used?: string;
}

export type KrakenBalanceExWire = Readonly<Record<string, KrakenBalanceExEntryWire>>;

// --------------------------------------------------------------------------------------------- requests

/** AddOrder parameters as sent (form fields; every value a string). */
export interface KrakenAddOrderParams {
  readonly pair: string;
  readonly type: KrakenSide;
  readonly ordertype: KrakenOrderType;
  readonly volume: string;
  readonly price?: string;
  readonly price2?: string;
  readonly cl_ord_id?: string;
  readonly userref?: string;
  readonly oflags?: string;
  readonly timeinforce?: 'GTC' | 'IOC' | 'GTD';
  readonly starttm?: string;
  readonly expiretm?: string;
  readonly deadline?: string;
  /** Only ever `'true'`: Kraken has validated orders sent with `validate=false` (kraken-api.md §10.9). */
  readonly validate?: 'true';
  readonly trigger?: 'last' | 'index';
  readonly trading_agreement?: 'agree';
}
