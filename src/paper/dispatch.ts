import { restCostOf } from '../kraken/budget';
import { balance, balanceEx, closedOrders, openOrders, queryOrders, tradesHistory } from './account-api';
import { type Params } from './params';
import { failure, type Outcome } from './public-api';
import { addOrder, cancelAll, cancelAllOrdersAfter, cancelOrder } from './trading-api';
import { type Venue } from './venue';
import { getWebSocketsToken } from './ws-token-api';

/** Who made an authenticated private call, and when (paper-clock ms). */
export interface PrivateCall {
  /** The key that signed it: the REST counter is per key. */
  readonly apiKey: string;
  /** When the request arrived (an AddOrder `deadline` is checked against it). */
  readonly arrivedAt: number;
  /** When it is processed, after any injected latency (the venue has caught up to it). */
  readonly now: number;
}

/**
 * The engine's answer to one authenticated private call: the maintenance check, the REST counter charged per
 * `restCostOf`, then the endpoint. One switch for every way in — the HTTP server and the in-process transport
 * of `kraken-rx-execution/testing` — so both see the same exchange.
 *
 * @param venue the paper exchange's state
 * @param method Kraken's method name (`AddOrder`, …); an unknown one gets `EGeneral:Unknown method`
 * @param params the request's parameters
 * @param call the key, arrival and processing times
 */
export function dispatchPrivate(venue: Venue, method: string, params: Params, call: PrivateCall): Outcome {
  // In maintenance the engine answers nothing private (kraken-api.md §3.2: no new orders, no cancels).
  if (venue.systemStatus === 'maintenance') return failure('EService:Unavailable');
  const rest = restCostOf(method);
  if (rest > 0 && !venue.restBudget(call.apiKey).tryCharge({ rest }, call.now)) {
    venue.rateLimitErrors.rest += 1;
    return failure('EAPI:Rate limit exceeded');
  }
  const { now } = call;
  switch (method) {
    case 'AddOrder':
      return addOrder(venue, params, call.apiKey, call.arrivedAt, now);
    case 'CancelOrder':
      return cancelOrder(venue, params, now);
    case 'CancelAll':
      return cancelAll(venue, now);
    case 'CancelAllOrdersAfter':
      return cancelAllOrdersAfter(venue, params, now);
    case 'OpenOrders':
      return openOrders(venue, params, now);
    case 'ClosedOrders':
      return closedOrders(venue, params);
    case 'QueryOrders':
      return queryOrders(venue, params);
    case 'Balance':
      return balance(venue);
    case 'BalanceEx':
      return balanceEx(venue);
    case 'TradesHistory':
      return tradesHistory(venue, params);
    case 'GetWebSocketsToken':
      return getWebSocketsToken(venue, call.apiKey, now);
    default:
      return failure('EGeneral:Unknown method');
  }
}
