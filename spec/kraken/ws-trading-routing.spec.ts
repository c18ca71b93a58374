import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { type Observable, of } from 'rxjs';
import { type WsTrading, withWsOrders } from '../../src/kraken/ws-orders';
import { type CancelOutcome, type OrderRequest, type PlacedOrder } from '../../src/model/order';
import { type ExchangePort, type OrderRef } from '../../src/model/port';

/** `withWsOrders` alone: which lane each call takes, decided when it is sent. */

type Sent = Array<`${'rest' | 'ws'} ${string}`>;

function fakes(sent: Sent): { rest: ExchangePort; ws: WsTrading & { tradingUp: boolean } } {
  const placed = (lane: 'rest' | 'ws') => (request: OrderRequest): Observable<PlacedOrder> => {
    sent.push(`${lane} place ${request.clientOrderId}`);
    return of({ txid: `${lane}-tx`, clientOrderId: request.clientOrderId, description: '' });
  };
  const cancelled = (lane: 'rest' | 'ws') => (ref: OrderRef): Observable<CancelOutcome> => {
    sent.push(`${lane} cancel ${'txid' in ref ? ref.txid : ref.clientOrderId}`);
    return of({ count: 1, pending: false });
  };
  const read = (what: string) => () => {
    sent.push(`rest ${what}`);
    return of(new Map());
  };
  const rest: ExchangePort = {
    placeOrder: placed('rest'),
    cancelOrder: cancelled('rest'),
    queryOrders: read('query'),
    openOrders: read('open'),
    closedOrders: read('closed'),
    ticker: read('ticker'),
    pairs: () => {
      throw new Error('not used');
    },
  };
  return { rest, ws: { tradingUp: false, placeOrder: placed('ws'), cancelOrder: cancelled('ws') } };
}

const order = (clientOrderId: string): OrderRequest => ({ clientOrderId, pair: 'XXBTZUSD', side: 'buy', orderType: 'market', volume: new Decimal('0.01') });

describe('withWsOrders', () => {
  it('decides each write when it is subscribed (sent), not when it is built; one lane per attempt', () => {
    const sent: Sent = [];
    const { rest, ws } = fakes(sent);
    const port = withWsOrders(rest, ws);
    const builtWhileDown = port.placeOrder(order('a'));
    ws.tradingUp = true;
    builtWhileDown.subscribe();
    port.cancelOrder({ txid: 'T1' }).subscribe();
    ws.tradingUp = false;
    builtWhileDown.subscribe();
    expect(sent).toEqual(['ws place a', 'ws cancel T1', 'rest place a']);
  });

  it('reads go over REST whatever the socket, and transportOf says which lane a call of each kind takes now', () => {
    const sent: Sent = [];
    const { rest, ws } = fakes(sent);
    ws.tradingUp = true;
    const port = withWsOrders(rest, ws);
    port.queryOrders(['T1']).subscribe();
    port.openOrders().subscribe();
    port.closedOrders({ clientOrderId: 'a' }).subscribe();
    port.ticker(['XXBTZUSD']).subscribe();
    expect(sent).toEqual(['rest query', 'rest open', 'rest closed', 'rest ticker']);
    expect(port.transportOf('placeOrder')).toBe('websocket');
    expect(port.transportOf('cancelOrder')).toBe('websocket');
    expect(port.transportOf('queryOrders')).toBe('rest');
    ws.tradingUp = false;
    expect(port.transportOf('placeOrder')).toBe('rest');
  });
});
