import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { type OrderRequest } from '../../src/model/order';
import { protectiveOrder } from '../../src/streams/exits';
import { contextOfRequest } from '../../src/streams/reports';
import { FakePort, XBT, exchangeError, marbles } from './fake-exchange';
import { streamDeps } from './stream-deps';

const stopRequest: OrderRequest = {
  clientOrderId: 'c0ffee00-0000-4000-8000-000000000002',
  pair: XBT.key,
  side: 'sell',
  orderType: 'stop-loss',
  volume: new Decimal('1'),
  price: new Decimal('90'),
};
const stopContext = contextOfRequest(stopRequest, XBT, 'signal-1', 'stop-loss');

describe('protectiveOrder and the positions registry', () => {
  it('lists the order while it is being placed and keeps it listed when the placement ends in ERROR (state unproven: it may be live)', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort(
        {
          placeOrder: () => cold('10ms #', {}, exchangeError('ambiguous', 'timeout after sending')),
          openOrders: () => cold('10ms #', {}, exchangeError('retryable', 'EService:Unavailable', 'OpenOrders')),
        },
        scheduler,
      );
      const deps = streamDeps(port, scheduler);
      const statuses: string[] = [];
      const listed: number[] = [];
      protectiveOrder(stopRequest, stopContext, deps, { lane: 'protect', leaveRestingOnStop: true }).subscribe((step) => {
        if (step.kind === 'report') statuses.push(step.report.status);
      });
      listed.push(deps.positions.protectiveOn(XBT.key).length);
      flush();
      listed.push(deps.positions.protectiveOn(XBT.key).length);
      expect(statuses).toEqual(['PENDING_NEW', 'UNKNOWN', 'ERROR']);
      expect(listed).toEqual([1, 1]);
      expect(deps.positions.positions().map((position) => position.protectiveOrders.map((order) => [order.clientOrderId, order.txid]))).toEqual([
        [[stopRequest.clientOrderId, null]],
      ]);
    });
  });

  it('drops an order refused for good (ERROR: position unprotected)', () => {
    marbles(({ cold, scheduler, flush }) => {
      const port = new FakePort({ placeOrder: () => cold('10ms #', {}, exchangeError('refused', 'EOrder:Insufficient funds')) }, scheduler);
      const deps = streamDeps(port, scheduler);
      const reasons: Array<string | null> = [];
      protectiveOrder(stopRequest, stopContext, deps, { lane: 'protect', leaveRestingOnStop: true }).subscribe((step) => {
        if (step.kind === 'report') reasons.push(step.report.reason);
      });
      flush();
      expect(reasons).toEqual([null, 'position unprotected: refused: AddOrder: EOrder:Insufficient funds']);
      expect(deps.positions.positions()).toEqual([]);
    });
  });
});
