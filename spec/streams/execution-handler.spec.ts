import { describe, expect, it } from '@jest/globals';
import { krakenCostModel } from '../../src/kraken/budget';
import { type ExecutionConfig } from '../../src/model/config';
import { type ExecutionReport, isFinalStatus } from '../../src/model/report';
import { type ClosePositionCommand, type TradeSignal } from '../../src/model/signal';
import { type ExecutionHandler, createExecutionHandler } from '../../src/streams/execution-handler';
import { createVirtualExchange } from '../../src/testing';
import { OpenBudget, config as baseConfig, marbles, sequentialIds } from './fake-exchange';
import { exchangeOptions, ordersOfType, run, sentAt } from './scenario';
import { quiet } from './stream-deps';
import { countingScheduler } from '../operators/support';

const limitBuy: TradeSignal = {
  signalId: 'limit-1',
  pair: 'XBTUSD',
  side: 'buy',
  orderType: 'limit',
  quantity: '1',
  limitPrice: '100',
  stopLoss: '90',
  takeProfit: '120',
  timeoutMs: 5_000,
};
const marketBuy: TradeSignal = { signalId: 'market-1', pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '1', stopLoss: '90', takeProfit: '120' };

const lines = (reports: readonly ExecutionReport[], filter: (r: ExecutionReport) => boolean = () => true): string[] =>
  reports.filter(filter).map((r) => `${r.timestamp} ${r.role} ${r.status}${r.quantityFilled.gt(0) ? ` ${r.quantityFilled.toFixed()}` : ''}`);

/**
 * Every order's reports end in exactly one final status, and nothing comes after it; except protective orders
 * that `stop()` left resting on the exchange (listed in `positions()`), whose reports end at NEW.
 */
function expectOneFinalPerOrder(reports: readonly ExecutionReport[], handler: ExecutionHandler): void {
  const resting = new Set(handler.positions().flatMap((position) => position.protectiveOrders.map((order) => order.clientOrderId)));
  const byOrder = new Map<string, ExecutionReport[]>();
  for (const report of reports) {
    const key = report.clientOrderId ?? `${report.signalId}/${report.role}/${report.reportId}`;
    byOrder.set(key, [...(byOrder.get(key) ?? []), report]);
  }
  for (const [key, ofOrder] of byOrder) {
    const finals = ofOrder.filter((report) => isFinalStatus(report.status)).length;
    const last = ofOrder.at(-1)?.status;
    if (resting.has(key)) expect({ key, finals, last }).toEqual({ key, finals: 0, last: 'NEW' });
    else expect({ key, finals, lastIsFinal: isFinalStatus(last ?? 'NEW') }).toEqual({ key, finals: 1, lastIsFinal: true });
  }
}

describe('execution handler', () => {
  it('partial fill then timeout, remainder protected: the stop is sized to the fill and left resting at stop()', () => {
    marbles(({ hot, scheduler, flush, expectSubscriptions }) => {
      const signals$ = hot('a', { a: limitBuy });
      const { handler, reports, exchange, completedAt } = run(scheduler, { signals$ });
      // The price touches the entry's limit, with 0.4 traded there.
      exchange.setPriceAt(2_500, 'XBTUSD', '100', { liquidity: '0.4' });
      scheduler.schedule(() => void handler.stop(), 20_000);
      flush();
      expect(lines(reports)).toEqual([
        '10 entry PENDING_NEW',
        '20 entry NEW',
        '3050 entry PARTIALLY_FILLED 0.4',
        '5020 entry PENDING_CANCEL 0.4',
        '5080 entry CANCELED 0.4',
        '5080 stop-loss PENDING_NEW',
        '5090 stop-loss NEW',
      ]);
      const [stop] = ordersOfType(exchange, 'stop-loss');
      expect(stop?.volume.toFixed()).toBe('0.4');
      expect(stop?.side).toBe('sell');
      expect(stop?.price?.toFixed()).toBe('90');
      expect(stop?.status).toBe('open');
      const [position] = handler.positions();
      expect(position?.pair).toBe('XXBTZUSD');
      expect(position?.quantity.toFixed()).toBe('0.4');
      expect(position?.protectiveOrders.map((order) => [order.role, order.txid])).toEqual([['stop-loss', stop?.txid]]);
      expect(completedAt()).toBe(20_000);
      expectSubscriptions(signals$.subscriptions).toBe('^ 19999ms !');
      // Nothing polls after the end: the last call was the take-profit watch's ticker before stop().
      expect(Math.max(...exchange.sent().map((request) => request.frame))).toBeLessThan(20_000);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('tears every timer down: when reports$ completes after stop(), the handler holds no scheduled action', () => {
    marbles(({ hot, scheduler, flush }) => {
      // The handler alone on the counting scheduler (the exchange's answers are not the handler's timers).
      const exchange = createVirtualExchange({ scheduler, ...exchangeOptions({}) });
      const counting = countingScheduler(exchange.clock);
      let pendingAtCompletion = -1;
      let completed = false;
      const handler = createExecutionHandler(baseConfig, {
        port: exchange.port,
        budget: new OpenBudget(),
        costs: krakenCostModel,
        scheduler: counting.scheduler,
        newId: sequentialIds(),
        random: () => 0.5,
        log: quiet,
      }).connect({ signals$: hot('a 999ms b', { a: marketBuy, b: limitBuy }), commands$: hot('-') });
      handler.reports$.subscribe({ complete: () => ((completed = true), (pendingAtCompletion = counting.pending())) });
      scheduler.schedule(() => void handler.stop(), 12_000);
      flush();
      expect(completed).toBe(true);
      expect(pendingAtCompletion).toBe(0);
      // The market entry's stop stays resting; the limit entry was cancelled at stop().
      expect(handler.positions().map((position) => position.protectiveOrders.map((order) => order.role))).toEqual([['stop-loss']]);
    });
  });

  it('partial fill below ordermin: the dust is reported, never sent', () => {
    marbles(({ hot, scheduler, flush }) => {
      const { handler, reports, exchange } = run(scheduler, { signals$: hot('a', { a: limitBuy }) });
      exchange.setPriceAt(2_500, 'XBTUSD', '100', { liquidity: '0.00001' });
      scheduler.schedule(() => void handler.stop(), 20_000);
      flush();
      // 0.00001 under the paper's (Kraken's) XBTUSD order minimum of 0.00005.
      expect(lines(reports).slice(-2)).toEqual(['5080 entry CANCELED 0.00001', '5080 stop-loss REJECTED']);
      expect(reports.at(-1)?.reason).toMatch(/^dust: 0\.00001 is below the BTC\/USD order minimum 0\.00005/);
      expect(ordersOfType(exchange, 'stop-loss')).toEqual([]);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('stop fills while the take-profit watch is active: the watch ends, no take-profit order', () => {
    marbles(({ hot, scheduler, flush }) => {
      const { handler, reports, exchange } = run(scheduler, { signals$: hot('a', { a: marketBuy }) });
      // The price falls through the stop's trigger (90): the exchange fills it at the market.
      exchange.setPriceAt(8_000, 'XBTUSD', '89');
      scheduler.schedule(() => void handler.stop(), 30_000);
      flush();
      expect(lines(reports)).toEqual([
        '20 entry PENDING_NEW',
        '30 entry NEW',
        '2060 entry FILLED 1',
        '2060 stop-loss PENDING_NEW',
        '2070 stop-loss NEW',
        '8140 stop-loss FILLED 1',
      ]);
      expect(ordersOfType(exchange, 'market')).toHaveLength(1);
      const tickersAfter = sentAt(exchange, 'Ticker').filter((frame) => frame > 8_140);
      expect(tickersAfter).toEqual([]);
      expect(handler.positions()).toEqual([]);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('take-profit reached while the stop is resting: cancel the stop, confirm, then close at market', () => {
    marbles(({ hot, scheduler, flush }) => {
      const { handler, reports, exchange } = run(scheduler, { signals$: hot('a', { a: marketBuy }) });
      exchange.setPriceAt(4_500, 'XBTUSD', '121');
      scheduler.schedule(() => void handler.stop(), 30_000);
      flush();
      expect(lines(reports)).toEqual([
        '20 entry PENDING_NEW',
        '30 entry NEW',
        '2060 entry FILLED 1',
        '2060 stop-loss PENDING_NEW',
        '2070 stop-loss NEW',
        '5080 stop-loss PENDING_CANCEL',
        '5110 stop-loss CANCELED',
        '5110 take-profit PENDING_NEW',
        '5120 take-profit NEW',
        '7150 take-profit FILLED 1',
      ]);
      const exits = ordersOfType(exchange, 'market').slice(1);
      expect(exits.map((order) => [order.side, order.volume.toFixed()])).toEqual([['sell', '1']]);
      expect(handler.positions()).toEqual([]);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('both-resting: a filled take-profit cancels its stop-loss sibling (one-cancels-other)', () => {
    marbles(({ hot, scheduler, flush }) => {
      // This account can hold both: take the funds check out of the way by holding twice the position.
      const config: ExecutionConfig = { ...baseConfig, protection: { ...baseConfig.protection, mode: 'both-resting' } };
      const { handler, reports, exchange } = run(scheduler, { signals$: hot('a', { a: marketBuy }) }, { config, xbt: '1' });
      // The price reaches the take-profit's trigger (120): the exchange fills it at the market.
      exchange.setPriceAt(5_000, 'XBTUSD', '120');
      scheduler.schedule(() => void handler.stop(), 30_000);
      flush();
      const protective = lines(reports, (r) => r.role !== 'entry');
      expect(protective).toEqual([
        '2060 stop-loss PENDING_NEW',
        '2060 take-profit PENDING_NEW',
        '2070 stop-loss NEW',
        // Private calls go out one at a time (the gate's private-call slot): the take-profit is sent when the stop is answered.
        '2080 take-profit NEW',
        '5110 take-profit FILLED 1',
        '5110 stop-loss PENDING_CANCEL',
        '6130 stop-loss CANCELED',
      ]);
      expect(reports.find((r) => r.status === 'PENDING_CANCEL')?.reason).toBe('cancel: one-cancels-other');
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('HALT while a placement is in flight: the in-flight one completes, the next signal is rejected', () => {
    marbles(({ hot, scheduler, flush }) => {
      const second: TradeSignal = { ...limitBuy, signalId: 'limit-2' };
      const { handler, reports, exchange } = run(
        scheduler,
        {
          signals$: hot('a 1199ms b', { a: limitBuy, b: second }),
          halted$: hot('f 1099ms t', { f: false, t: true }),
        },
        { latencyMs: 500 },
      );
      scheduler.schedule(() => void handler.stop(), 3_000);
      flush();
      // pairs 0→500, placement 500→1000… the HALT at 1100 finds the first one sent; the second arrives halted.
      expect(lines(reports, (r) => r.signalId === 'limit-1').slice(0, 2)).toEqual(['500 entry PENDING_NEW', '1000 entry NEW']);
      const rejected = reports.filter((r) => r.signalId === 'limit-2');
      expect(rejected.map((r) => [r.timestamp, r.status, r.reason])).toEqual([[1200, 'REJECTED', 'halted: HALT is on: new entries are rejected']]);
      expect(exchange.sent('AddOrder')).toHaveLength(1);
    });
  });

  it('HALT also stops an entry admitted before it but still waiting for a placement slot', () => {
    marbles(({ hot, scheduler, flush }) => {
      const config: ExecutionConfig = { ...baseConfig, entry: { ...baseConfig.entry, maxConcurrentPlacements: 1 } };
      const { handler, reports, exchange } = run(
        scheduler,
        {
          signals$: hot('a 9ms b', { a: limitBuy, b: { ...limitBuy, signalId: 'limit-2' } }),
          halted$: hot('f 599ms t', { f: false, t: true }),
        },
        { config, latencyMs: 500 },
      );
      scheduler.schedule(() => void handler.stop(), 3_000);
      flush();
      // Both wait for the pair book until 500; the first is sent at 500, the second waits for the slot until 1000.
      expect(reports.filter((r) => r.signalId === 'limit-2').map((r) => [r.timestamp, r.status, r.reason])).toEqual([
        [1000, 'REJECTED', 'halted: HALT is on: new entries are rejected'],
      ]);
      expect(exchange.sent('AddOrder')).toHaveLength(1);
    });
  });

  it('a failed HALT feed halts: later signals are rejected with the failure, queued ones too, and nothing more is sent', () => {
    marbles(({ hot, scheduler, flush }) => {
      const config: ExecutionConfig = { ...baseConfig, entry: { ...baseConfig.entry, maxConcurrentPlacements: 1 } };
      const { handler, reports, exchange } = run(
        scheduler,
        {
          signals$: hot('a 9ms b 1190ms c', { a: limitBuy, b: { ...limitBuy, signalId: 'queued' }, c: { ...limitBuy, signalId: 'late' } }),
          halted$: hot('f 599ms #', { f: false }, new Error('halt feed lost')),
        },
        { config, latencyMs: 500 },
      );
      scheduler.schedule(() => void handler.stop(), 3_000);
      flush();
      const refused = reports.filter((r) => r.signalId !== 'limit-1').map((r) => [r.signalId, r.status, r.reason, r.quantityOrdered?.toFixed()]);
      expect(refused).toEqual([
        ['queued', 'REJECTED', 'halted: HALT is on: new entries are rejected', '1'],
        ['late', 'REJECTED', 'halted: HALT is on: the HALT feed failed (halt feed lost); new entries are rejected', '1'],
      ]);
      expect(exchange.sent('AddOrder')).toHaveLength(1);
    });
  });

  it('an entry rounded to the pair says so in its reports, and a rejected one shows the quantity it asked for', () => {
    marbles(({ hot, scheduler, flush }) => {
      const rounded: TradeSignal = { signalId: 'rounded', pair: 'XBTUSD', side: 'buy', orderType: 'limit', quantity: '1.0100000099', limitPrice: '100' };
      const refused: TradeSignal = { ...limitBuy, signalId: 'refused', quantity: '-2' };
      const { handler, reports } = run(scheduler, { signals$: hot('a 9ms b', { a: rounded, b: refused }) });
      scheduler.schedule(() => void handler.stop(), 3_000);
      flush();
      const entry = reports.filter((r) => r.signalId === 'rounded');
      expect(entry.slice(0, 2).map((r) => [r.status, r.quantityOrdered?.toFixed(), r.reason])).toEqual([
        ['PENDING_NEW', '1.01', 'rounded to the BTC/USD rules: quantity 1.0100000099 → 1.01 (8 lot decimals, rounded down)'],
        ['NEW', '1.01', 'rounded to the BTC/USD rules: quantity 1.0100000099 → 1.01 (8 lot decimals, rounded down)'],
      ]);
      expect(reports.filter((r) => r.signalId === 'refused').map((r) => [r.status, r.quantityOrdered?.toFixed(), r.reason])).toEqual([
        ['REJECTED', '-2', "quantity: quantity must be positive, got '-2'"],
      ]);
    });
  });

  it('close-position while HALTed with a resting stop holding the funds: the stop is cancelled first, then the close', () => {
    marbles(({ hot, scheduler, flush }) => {
      const close: ClosePositionCommand = { commandId: 'close-1', pair: 'XBT/USD' };
      const { handler, reports, exchange } = run(scheduler, {
        signals$: hot('a', { a: marketBuy }),
        halted$: hot('f 2999ms t', { f: false, t: true }),
        commands$: hot('5000ms c', { c: close }),
      });
      scheduler.schedule(() => void handler.stop(), 30_000);
      flush();
      // The close goes once the cancel is answered as done (5010 + a ticker read); the monitor reports the
      // stop's CANCELED after.
      expect(lines(reports, (r) => r.timestamp >= 5_000)).toEqual([
        '5000 stop-loss PENDING_CANCEL',
        '5020 close PENDING_NEW',
        '5030 close NEW',
        '5110 stop-loss CANCELED',
        '7140 close FILLED 1',
      ]);
      const closeOrder = ordersOfType(exchange, 'market')[1];
      expect(closeOrder?.side).toBe('sell');
      expect(closeOrder?.volume.toFixed()).toBe('1');
      expect(exchange.sent('AddOrder').some((request) => request.frame > 5_000 && request.params['type'] === 'sell')).toBe(true);
      expect(reports.some((r) => r.reason?.includes('Insufficient funds'))).toBe(false);
      expect(handler.positions()).toEqual([]);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('close-position closes the quantity asked for, never more than is tracked', () => {
    marbles(({ hot, scheduler, flush }) => {
      const unprotected: TradeSignal = { signalId: 'market-2', pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: '1' };
      const { handler, reports, exchange } = run(scheduler, {
        signals$: hot('a', { a: unprotected }),
        commands$: hot('3000ms c 999ms d', { c: { commandId: 'close-1', pair: 'XBTUSD', quantity: '0.3' }, d: { commandId: 'close-2', pair: 'XBTUSD', quantity: '5' } }),
      });
      scheduler.schedule(() => void handler.stop(), 20_000);
      flush();
      // The second command waits for the first (one pair, one close at a time) and sees what is left.
      const sells = ordersOfType(exchange, 'market').filter((order) => order.side === 'sell');
      expect(sells.map((order) => order.volume.toFixed())).toEqual(['0.3', '0.7']);
      expect(lines(reports, (r) => r.role === 'close' && r.status === 'FILLED')).toEqual(['5050 close FILLED 0.3', '7100 close FILLED 0.7']);
      expect(handler.positions()).toEqual([]);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('a partial close-position puts a stop back on the rest of the position, at the cancelled stop\'s price', () => {
    marbles(({ hot, scheduler, flush }) => {
      const protectedBuy: TradeSignal = { signalId: 'market-3', pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: '0.05', stopLoss: '57000' };
      const { handler, reports, exchange } = run(scheduler, {
        signals$: hot('a', { a: protectedBuy }),
        commands$: hot('5000ms c', { c: { commandId: 'close-1', pair: 'XBTUSD', quantity: '0.02' } }),
      }, { price: '60000' });
      scheduler.schedule(() => void handler.stop(), 30_000);
      flush();
      expect(lines(reports, (r) => r.timestamp >= 5_000)).toEqual([
        '5000 stop-loss PENDING_CANCEL',
        '5020 close PENDING_NEW',
        '5030 close NEW',
        '5110 stop-loss CANCELED',
        '7140 close FILLED 0.02',
        // The close's final state, then the remaining 0.03 is protected again; left resting at stop().
        '7140 stop-loss PENDING_NEW',
        '7150 stop-loss NEW',
      ]);
      const [cancelled, renewed] = ordersOfType(exchange, 'stop-loss');
      expect(cancelled?.status).toBe('canceled');
      expect(ordersOfType(exchange, 'market').map((order) => [order.side, order.volume.toFixed()])).toEqual([['buy', '0.05'], ['sell', '0.02']]);
      expect([renewed?.side, renewed?.volume.toFixed(), renewed?.price?.toFixed(), renewed?.status]).toEqual(['sell', '0.03', '57000', 'open']);
      const renewedReports = reports.filter((r) => r.clientOrderId === renewed?.clOrdId);
      expect(renewedReports.map((r) => [r.signalId, r.role, r.status])).toEqual([['close-1', 'stop-loss', 'PENDING_NEW'], ['close-1', 'stop-loss', 'NEW']]);
      const [position] = handler.positions();
      expect(position?.quantity.toFixed()).toBe('0.03');
      expect(position?.protectiveOrders.map((order) => [order.role, order.txid, order.quantity.toFixed(), order.stopPrice?.toFixed()])).toEqual([
        ['stop-loss', renewed?.txid, '0.03', '57000'],
      ]);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('after a partial close the new stop takes the tightest cancelled trigger, and a later close cancels it', () => {
    marbles(({ hot, scheduler, flush }) => {
      const loose: TradeSignal = { signalId: 'buy-loose', pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: '0.02', stopLoss: '56000' };
      const tight: TradeSignal = { signalId: 'buy-tight', pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: '0.03', stopLoss: '57000' };
      const { handler, reports, exchange } = run(scheduler, {
        signals$: hot('a b', { a: loose, b: tight }),
        commands$: hot('5000ms c 9999ms d', { c: { commandId: 'close-1', pair: 'XBTUSD', quantity: '0.01' }, d: { commandId: 'close-2', pair: 'XBTUSD' } }),
      }, { price: '60000' });
      scheduler.schedule(() => void handler.stop(), 40_000);
      flush();
      const stops = ordersOfType(exchange, 'stop-loss');
      // For a long the highest trigger is the tightest: 57000, never loosened to 56000.
      expect(stops.map((order) => [order.volume.toFixed(), order.price?.toFixed(), order.status])).toEqual([
        ['0.02', '56000', 'canceled'],
        ['0.03', '57000', 'canceled'],
        ['0.04', '57000', 'canceled'],
      ]);
      const sells = ordersOfType(exchange, 'market').filter((order) => order.side === 'sell');
      expect(sells.map((order) => order.volume.toFixed())).toEqual(['0.01', '0.04']);
      const renewed = reports.filter((r) => r.clientOrderId === stops[2]?.clOrdId);
      expect(renewed.map((r) => [r.signalId, r.status, r.reason])).toEqual([
        ['close-1', 'PENDING_NEW', null],
        ['close-1', 'NEW', null],
        ['close-1', 'PENDING_CANCEL', 'cancel: close-position'],
        ['close-1', 'CANCELED', 'cancelled: close-position'],
      ]);
      // The second close waited for the renewed stop's cancel (its answer), then sold what it protected.
      expect(lines(reports, (r) => r.timestamp >= 15_000)).toEqual([
        '15000 stop-loss PENDING_CANCEL',
        '15020 close PENDING_NEW',
        '15030 close NEW',
        '15240 stop-loss CANCELED',
        '17270 close FILLED 0.04',
      ]);
      expect(handler.positions()).toEqual([]);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('a full close-position (no quantity) does not put a stop back: nothing is left to protect', () => {
    marbles(({ hot, scheduler, flush }) => {
      const protectedBuy: TradeSignal = { signalId: 'market-3', pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: '0.05', stopLoss: '57000' };
      const { handler, reports, exchange } = run(scheduler, {
        signals$: hot('a', { a: protectedBuy }),
        commands$: hot('5000ms c', { c: { commandId: 'close-1', pair: 'XBTUSD' } }),
      }, { price: '60000' });
      scheduler.schedule(() => void handler.stop(), 30_000);
      flush();
      expect(ordersOfType(exchange, 'stop-loss').map((order) => order.status)).toEqual(['canceled']);
      expect(ordersOfType(exchange, 'market').map((order) => [order.side, order.volume.toFixed()])).toEqual([['buy', '0.05'], ['sell', '0.05']]);
      expect(lines(reports, (r) => r.timestamp >= 5_000)).toEqual([
        '5000 stop-loss PENDING_CANCEL',
        '5020 close PENDING_NEW',
        '5030 close NEW',
        '5110 stop-loss CANCELED',
        '7140 close FILLED 0.05',
      ]);
      expect(handler.positions()).toEqual([]);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('a close-position command for a pair with nothing to close is rejected with the reason', () => {
    marbles(({ hot, scheduler, flush }) => {
      const { handler, reports } = run(scheduler, {
        signals$: hot('-'),
        commands$: hot('100ms c', { c: { commandId: 'close-1', pair: 'XBTUSD' } }),
      });
      scheduler.schedule(() => void handler.stop(), 1_000);
      flush();
      expect(reports.map((r) => [r.timestamp, r.role, r.status, r.reason])).toEqual([
        // 110: the pair book is loaded when the first input needs it.
        [110, 'close', 'REJECTED', 'nothing to close on BTC/USD: no tracked position and no quantity given'],
      ]);
    });
  });

  it('malformed close commands are rejected with the reason, and the stream goes on', () => {
    marbles(({ hot, scheduler, flush }) => {
      const nothing = null as unknown as ClosePositionCommand;
      const { handler, reports } = run(scheduler, {
        signals$: hot('-'),
        commands$: hot('100ms n 99ms u 99ms q 99ms c 99ms x', {
          n: nothing,
          u: { commandId: 'close-u', pair: 'DOGEUSD' },
          q: { commandId: 'close-q', pair: 'XBTUSD', quantity: '-1' },
          c: { commandId: 'close-c', pair: 'XBTUSD' },
          x: { commandId: 'close\n[spoof] FILLED', pair: 'XBTUSD', quantity: '0.5' },
        }),
      });
      scheduler.schedule(() => void handler.stop(), 1_000);
      flush();
      expect(reports.map((r) => [r.timestamp, r.signalId, r.status, r.reason])).toEqual([
        [110, '', 'REJECTED', 'commandId is missing; nothing sent'],
        [200, 'close-u', 'REJECTED', 'pair: unknown pair DOGEUSD'],
        [300, 'close-q', 'REJECTED', 'quantity: quantity must be a positive decimal string, got -1'],
        [400, 'close-c', 'REJECTED', 'nothing to close on BTC/USD: no tracked position and no quantity given'],
        [500, 'close\n[spoof] FILLED', 'REJECTED', 'commandId contains the unprintable character U+000A (at character 6); ids must be printable; nothing sent'],
      ]);
      // A rejected close says what it was asked to sell, when that reads as a quantity.
      expect(reports.map((r) => r.quantityOrdered?.toFixed() ?? null)).toEqual([null, null, '-1', null, '0.5']);
    });
  });

  it('a failed pair-book load rejects the signal that needed it; the next signal loads it again', () => {
    marbles(({ hot, scheduler, flush }) => {
      // AssetPairs is unavailable for as many answers as the retry allows (4); a breaker that does not open on them.
      const config: ExecutionConfig = { ...baseConfig, breaker: { failureThreshold: 100, cooldownMs: 60_000 } };
      const { handler, reports, exchange } = run(
        scheduler,
        { signals$: hot('a 999ms b', { a: limitBuy, b: { ...limitBuy, signalId: 'limit-2' } }) },
        { config, before: (exchange) => exchange.faults.inject('AssetPairs', 'service-unavailable', 4) },
      );
      scheduler.schedule(() => void handler.stop(), 2_000);
      flush();
      // Tried at 0, 110 (+100), 320 (+200), 730 (+400); the fourth answer (740) rejects the signal.
      expect(reports.filter((r) => r.signalId === 'limit-1').map((r) => [r.timestamp, r.status, r.reason])).toEqual([
        [740, 'REJECTED', 'pair: pair rules unavailable: AssetPairs: EService:Unavailable'],
      ]);
      expect(reports.filter((r) => r.signalId === 'limit-2').map((r) => r.status).slice(0, 2)).toEqual(['PENDING_NEW', 'NEW']);
      expect(sentAt(exchange, 'AssetPairs')).toEqual([0, 110, 320, 730, 1000]);
    });
  });

  it('a malformed signal among good ones is rejected with its field, and the stream goes on', () => {
    marbles(({ hot, scheduler, flush }) => {
      const malformed = { ...limitBuy, signalId: 'bad-1', quantity: 'abc' } as TradeSignal;
      const good2: TradeSignal = { ...limitBuy, signalId: 'limit-2' };
      const nothing = null as unknown as TradeSignal;
      const { handler, reports, exchange } = run(scheduler, { signals$: hot('a 49ms n 49ms b 99ms c', { a: limitBuy, n: nothing, b: malformed, c: good2 }) });
      scheduler.schedule(() => void handler.stop(), 3_000);
      flush();
      const bad = reports.filter((r) => r.signalId === 'bad-1');
      expect(bad.map((r) => r.status)).toEqual(['REJECTED']);
      expect(bad[0]?.reason).toMatch(/^quantity: /);
      expect(reports.filter((r) => r.signalId === '').map((r) => [r.timestamp, r.status])).toEqual([[50, 'REJECTED']]);
      expect(reports.filter((r) => r.signalId === 'limit-2').map((r) => r.status).slice(0, 2)).toEqual(['PENDING_NEW', 'NEW']);
      expect(exchange.sent('AddOrder')).toHaveLength(2);
    });
  });

  it('stop() cancels a working entry, protects nothing when nothing filled, and every order ends in one final status', () => {
    marbles(({ hot, scheduler, flush }) => {
      const { handler, reports, completedAt } = run(scheduler, { signals$: hot('a', { a: { ...limitBuy, timeoutMs: 60_000 } }) });
      scheduler.schedule(() => void handler.stop(), 3_000);
      flush();
      expect(lines(reports)).toEqual(['10 entry PENDING_NEW', '20 entry NEW', '3000 entry PENDING_CANCEL', '3060 entry CANCELED']);
      expect(completedAt()).toBe(3_060);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('an ambiguous placement that did reach the exchange is adopted and followed, never placed twice', () => {
    marbles(({ hot, scheduler, flush }) => {
      // The exchange places the entry, then the connection drops before the answer.
      const { handler, reports, exchange } = run(
        scheduler,
        { signals$: hot('a', { a: marketBuy }) },
        { before: (exchange) => exchange.faults.inject('AddOrder', 'accept-then-drop', 1) },
      );
      scheduler.schedule(() => void handler.stop(), 10_000);
      flush();
      expect(lines(reports).slice(0, 4)).toEqual(['20 entry PENDING_NEW', '30 entry UNKNOWN', '1050 entry NEW 1', '1050 entry FILLED 1']);
      expect(ordersOfType(exchange, 'market')).toHaveLength(1);
      expect(ordersOfType(exchange, 'stop-loss')).toHaveLength(1);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('a filled entry stays protected when the stop-loss placement meets two EAPI:Invalid nonce answers in a row', () => {
    marbles(({ hot, scheduler, flush }) => {
      const stopOnly: TradeSignal = { signalId: 'nonces', pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: '1', stopLoss: '90' };
      const { handler, reports, exchange } = run(scheduler, { signals$: hot('a', { a: stopOnly }) });
      // AddOrder 1 is the entry (sent at 20); 2 and 3 are the stop's first attempts, refused as if another process raced the nonce.
      exchange.faultAt(21, 'AddOrder', 'invalid-nonce', 2);
      scheduler.schedule(() => void handler.stop(), 10_000);
      flush();
      // Entry filled (seen at 2060); the stop is tried at 2060, 2170 (+100 backoff) and 2380 (+200): placed on the third.
      expect(lines(reports, (r) => r.role === 'stop-loss')).toEqual(['2060 stop-loss PENDING_NEW', '2390 stop-loss NEW']);
      expect(sentAt(exchange, 'AddOrder')).toEqual([20, 2060, 2170, 2380]);
      expect(ordersOfType(exchange, 'stop-loss').map((order) => [order.status, order.volume.toFixed()])).toEqual([['open', '1']]);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('a close keeps retrying an unavailable exchange past retry.maxAttempts until it is placed', () => {
    marbles(({ hot, scheduler, flush }) => {
      const unprotected: TradeSignal = { signalId: 'market-2', pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: '1' };
      const config: ExecutionConfig = { ...baseConfig, breaker: { failureThreshold: 100, cooldownMs: 60_000 } };
      const { handler, reports, exchange } = run(
        scheduler,
        { signals$: hot('a', { a: unprotected }), commands$: hot('3000ms c', { c: { commandId: 'close-1', pair: 'XBTUSD' } }) },
        { config },
      );
      // After the entry (AddOrder 1), the next five AddOrders meet EService:Unavailable.
      exchange.faultAt(21, 'AddOrder', 'service-unavailable', 5);
      scheduler.schedule(() => void handler.stop(), 20_000);
      flush();
      const closeCalls = sentAt(exchange, 'AddOrder').slice(1);
      // Five refusals (backoff 100, 200, 400, 800, 1000 ms), the sixth attempt is placed.
      expect(closeCalls.map((at) => at - (closeCalls[0] ?? 0))).toEqual([0, 110, 320, 730, 1540, 2550]);
      expect(lines(reports, (r) => r.role === 'close').filter((line) => !line.includes('PENDING'))).toEqual([`${(closeCalls[0] ?? 0) + 2560} close NEW`, expect.stringMatching(/ close FILLED 1$/)]);
      expect(handler.positions()).toEqual([]);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('a stop-loss refused for good is reported unprotected and leaves positions(), so a later close is not held up', () => {
    marbles(({ hot, scheduler, flush }) => {
      const stopOnly: TradeSignal = { signalId: 'refused', pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: '1', stopLoss: '90' };
      const { handler, reports, exchange } = run(scheduler, {
        signals$: hot('a', { a: stopOnly }),
        commands$: hot('5000ms c', { c: { commandId: 'close-1', pair: 'XBTUSD' } }),
      });
      // The exchange refuses the stop-loss for good.
      exchange.refuse('AddOrder', 'EOrder:Invalid price', { when: (params) => params['ordertype'] === 'stop-loss' });
      let listedBeforeClose: unknown = null;
      scheduler.schedule(() => (listedBeforeClose = handler.positions().map((position) => [position.quantity.toFixed(), position.protectiveOrders.length])), 4_000);
      scheduler.schedule(() => void handler.stop(), 60_000);
      flush();
      const stop = reports.filter((r) => r.role === 'stop-loss');
      expect(stop.map((r) => [r.status, r.reason])).toEqual([
        ['PENDING_NEW', null],
        ['ERROR', 'position unprotected: refused: AddOrder: EOrder:Invalid price'],
      ]);
      // The position is still tracked, without a protective order that is not there.
      expect(listedBeforeClose).toEqual([['1', 0]]);
      // The close goes at once (no wait for a cancel that cannot happen, no timeout).
      expect(lines(reports, (r) => r.role === 'close')).toEqual(['5010 close PENDING_NEW', '5020 close NEW', expect.stringMatching(/ close FILLED 1$/)]);
      expect(handler.positions()).toEqual([]);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('close-position cancels the pair\'s working limit entry first and closes what it filled, without protecting it', () => {
    marbles(({ hot, scheduler, flush }) => {
      const working: TradeSignal = { ...limitBuy, timeoutMs: 60_000 };
      const { handler, reports, exchange } = run(scheduler, {
        signals$: hot('a', { a: working }),
        commands$: hot('4000ms c', { c: { commandId: 'close-1', pair: 'XBTUSD' } }),
      });
      exchange.setPriceAt(2_500, 'XBTUSD', '100', { liquidity: '0.4' });
      scheduler.schedule(() => void handler.stop(), 30_000);
      flush();
      const entry = reports.filter((r) => r.role === 'entry');
      expect(entry.map((r) => r.status)).toEqual(['PENDING_NEW', 'NEW', 'PARTIALLY_FILLED', 'PENDING_CANCEL', 'CANCELED']);
      expect(entry.find((r) => r.status === 'PENDING_CANCEL')?.reason).toBe('cancel: close-position');
      // The close waits for the entry's final state, then sells what it filled.
      const canceledAt = entry.at(-1)?.timestamp ?? 0;
      const close = reports.filter((r) => r.role === 'close');
      expect(close.map((r) => r.status)).toEqual(['PENDING_NEW', 'NEW', 'FILLED']);
      expect(close[0]?.timestamp).toBeGreaterThanOrEqual(canceledAt);
      expect(ordersOfType(exchange, 'market').map((order) => [order.side, order.volume.toFixed()])).toEqual([['sell', '0.4']]);
      expect(ordersOfType(exchange, 'limit').map((order) => order.status)).toEqual(['canceled']);
      // The close took the fill: no stop-loss was placed for it.
      expect(ordersOfType(exchange, 'stop-loss')).toEqual([]);
      expect(reports.some((r) => r.role === 'stop-loss')).toBe(false);
      expect(handler.positions()).toEqual([]);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('close-position with only an unfilled working entry on the pair cancels it; nothing is left to sell', () => {
    marbles(({ hot, scheduler, flush }) => {
      const working: TradeSignal = { ...limitBuy, timeoutMs: 60_000 };
      const { handler, reports, exchange } = run(scheduler, {
        signals$: hot('a', { a: working }),
        commands$: hot('3000ms c', { c: { commandId: 'close-1', pair: 'XBTUSD' } }),
      });
      scheduler.schedule(() => void handler.stop(), 30_000);
      flush();
      expect(reports.filter((r) => r.role === 'entry').map((r) => r.status)).toEqual(['PENDING_NEW', 'NEW', 'PENDING_CANCEL', 'CANCELED']);
      expect(ordersOfType(exchange, 'limit').map((order) => order.status)).toEqual(['canceled']);
      expect(reports.filter((r) => r.role === 'close').map((r) => [r.status, r.reason])).toEqual([
        ['REJECTED', 'nothing to close on BTC/USD: the tracked position is flat'],
      ]);
      expect(ordersOfType(exchange, 'market')).toEqual([]);
      expectOneFinalPerOrder(reports, handler);
    });
  });

  it('start() and stop(): the façade delivers the reports and resolves once reports$ has completed', async () => {
    let stopped: Promise<void> | null = null;
    const delivered: string[] = [];
    marbles(({ hot, scheduler, flush }) => {
      const exchange = createVirtualExchange({ scheduler, ...exchangeOptions({}) });
      const handler = createExecutionHandler(baseConfig, {
        port: exchange.port,
        budget: new OpenBudget(),
        costs: krakenCostModel,
        scheduler,
        newId: sequentialIds(),
        log: quiet,
      }).connect({ signals$: hot('a', { a: limitBuy }) });
      handler.start((report) => delivered.push(report.status));
      expect(() => handler.start(() => undefined)).toThrow('already started');
      scheduler.schedule(() => (stopped = handler.stop()), 1_000);
      flush();
    });
    await expect(stopped).resolves.toBeUndefined();
    expect(delivered).toEqual(['PENDING_NEW', 'NEW', 'PENDING_CANCEL', 'CANCELED']);
  });
});
