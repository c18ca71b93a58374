/** Everything Kraken-specific: signing, nonces, credentials, transport, wire format, errors, pairs, rate budget, WebSocket v2. */
export { signRequest } from './sign';
export { NonceSource } from './nonce';
export { Credentials } from './credentials';
export { PrivateLane, privateLaneFor } from './private-lane';
export {
  type FetchLike,
  type FetchResponseLike,
  type KrakenTransport,
  type RequestParams,
  type TransportOptions,
  createKrakenTransport,
} from './transport';
export {
  type CancelTarget,
  type ClosedOrdersParams,
  type KrakenClient,
  type KrakenClientOptions,
  type OpenOrdersParams,
  MAX_QUERY_TXIDS,
  createKrakenClient,
  krakenClientOver,
} from './client';
export { KrakenExchange, addOrderParamsOf, createKrakenExchange } from './exchange';
export {
  type BudgetLevels,
  type BudgetOptions,
  clientRateBudget,
  type CounterLimits,
  type TierLimits,
  KrakenRateBudget,
  TIERS,
  cancelPenaltyUnits,
  isPublicEndpoint,
  krakenCostModel,
  restCostOf,
} from './budget';
export {
  type CallEffect,
  type CodeVerdict,
  type TransportFailure,
  CONNECT_ERROR_CODES,
  classifyKrakenCode,
  classifyKrakenErrors,
  classifyTransportFailure,
  effectOf,
  isWarning,
} from './errors';
export { pairBookFromAssetPairs, pairRulesOf } from './pairs';
export { WireFormatError } from './wire-parse';
export { KRAKEN_WS_PRIVATE_URL, KRAKEN_WS_PUBLIC_URL, KrakenWsFeed, type KrakenWsFeedOptions, createKrakenWsFeed } from './ws-feed';
export { type WsTrading, WsOrderRouting, withWsOrders } from './ws-orders';
export { TERMINAL_CLOSE_CODE, type WsBackoff } from './ws-connection';
export { type SocketEvent, type WsConnector, wsConnector } from './ws-socket';
export * from './parse-orders';
export * from './parse-public';
export * from './parse-account';
export type * from './wire';
