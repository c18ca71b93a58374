import { type Observable, defer, throwError } from 'rxjs';
import { JournalError } from '../model/journal';
import { type ExchangePort } from '../model/port';

/**
 * The exchange port of a leader, shut the moment it is deposed: from then on every private call (placements,
 * cancels, order queries: anything signed with the shared key's nonce) fails at once with a `fenced` error and
 * nothing leaves; public calls (pairs, ticker) go on. The journal's fencing already stops every placement (its
 * `sent` is written first); this also stops what a stopping handler would still do without the journal (a
 * cancel of a working entry), which is the new leader's business now.
 *
 * Intuition: a gate on the wire, closed by `lost`.
 *
 * deposed:  ------x          (x: `deposed()` starts answering a reason)
 * calls:    -a--b---c--d-
 * result:   -A--B---#--#     (c, d: failed, never sent)
 *
 * @param port The leader's port.
 * @param deposed Why this run no longer leads, or `null` while it does; read at each call's subscription.
 * @returns The same port, gated.
 */
export function untilDeposed(port: ExchangePort, deposed: () => string | null): ExchangePort {
  const gated = <T>(what: string, call: () => Observable<T>): Observable<T> =>
    defer(() => {
      const why = deposed();
      return why === null ? call() : throwError(() => new JournalError('fenced', `${what} not sent: this run no longer leads the account (${why})`));
    });
  const gatedSince =
    (since: NonNullable<ExchangePort['closedOrdersSince']>): NonNullable<ExchangePort['closedOrdersSince']> =>
    (startMs, offset) =>
      gated('ClosedOrders', () => since(startMs, offset));
  return {
    placeOrder: (request) => gated('AddOrder', () => port.placeOrder(request)),
    cancelOrder: (ref) => gated('CancelOrder', () => port.cancelOrder(ref)),
    queryOrders: (txids) => gated('QueryOrders', () => port.queryOrders(txids)),
    openOrders: (filter) => gated('OpenOrders', () => port.openOrders(filter)),
    closedOrders: (filter) => gated('ClosedOrders', () => port.closedOrders(filter)),
    ...(port.closedOrdersSince ? { closedOrdersSince: gatedSince(port.closedOrdersSince.bind(port)) } : {}),
    ticker: (pairs) => port.ticker(pairs),
    pairs: () => port.pairs(),
    ...(port.transportOf ? { transportOf: port.transportOf.bind(port) } : {}),
  };
}
