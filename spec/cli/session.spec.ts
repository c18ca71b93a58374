import { Decimal } from 'decimal.js';
import { NEVER, Subject, defer, map, merge, of, takeUntil, throwError } from 'rxjs';
import { defaultConfig } from '../../src/config/config';
import { splitInput } from '../../src/cli/input';
import { runSession } from '../../src/cli/session';
import { KrakenRateBudget, krakenCostModel } from '../../src/kraken/budget';
import { type PairBook, type PairRules } from '../../src/model/pair';
import { type ExchangePort } from '../../src/model/port';
import { type ExecutionReport } from '../../src/model/report';
import { type TradeSignal } from '../../src/model/signal';
import { type Logger } from '../../src/streams/deps';
import { type HandlerInputs, type createExecutionHandler } from '../../src/streams/execution-handler';

const btc = { key: 'XXBTZUSD', altname: 'XBTUSD', wsname: 'XBT/USD', symbol: 'BTC/USD' } as PairRules;
const book: PairBook = { find: (name) => ([btc.key, btc.altname, btc.wsname, btc.symbol].includes(name) ? btc : undefined), all: () => [btc] };
/** Only `pairs()` is used by the session itself; the fake handler never calls the port. */
const port = { pairs: () => of(book) } as unknown as ExchangePort;
const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

let count = 0;
const reportOf = (signal: TradeSignal, status: ExecutionReport['status']): ExecutionReport => {
  count += 1;
  return {
    reportId: `r${count}`,
    timestamp: 0,
    signalId: signal.signalId,
    clientOrderId: `cl-${signal.signalId}`,
    exchangeOrderId: null,
    pair: 'XXBTZUSD',
    role: 'entry',
    side: signal.side,
    orderType: signal.orderType,
    status,
    quantityOrdered: new Decimal(String(signal.quantity)),
    quantityFilled: new Decimal(0),
    lastFillQuantity: null,
    lastFillPrice: null,
    averageFillPrice: null,
    limitPrice: null,
    stopPrice: null,
    commission: new Decimal(0),
    commissionAsset: null,
    reason: null,
  };
};

/** A handler that answers each signal with `statusOf(signal)` and counts its runs and stops. */
function fakeHandler(statusOf: (signal: TradeSignal) => ExecutionReport['status'], completesWithInput = true) {
  const calls = { runs: 0, stops: 0 };
  const stopped = new Subject<void>();
  const factory = ((_config, _deps) => ({
    connect: (inputs: HandlerInputs) => ({
      reports$: defer(() => {
        calls.runs += 1;
        const answers = inputs.signals$.pipe(map((signal) => reportOf(signal, statusOf(signal))));
        return (completesWithInput ? answers : merge(answers, NEVER)).pipe(takeUntil(stopped));
      }),
      start: () => undefined,
      stop: () => {
        calls.stops += 1;
        stopped.next();
        return Promise.resolve();
      },
      positions: () => [],
    }),
  })) as typeof createExecutionHandler;
  return { factory, calls };
}

const line = (signalId: string): string =>
  JSON.stringify({ signalId, pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.01' });

const baseOptions = {
  config: { ...defaultConfig(), monitor: { minIntervalMs: 20, maxIntervalMs: 100 } },
  port,
  budget: new KrakenRateBudget('starter'),
  costs: krakenCostModel,
  log: silent,
  stopRequests$: NEVER,
};

describe('runSession', () => {
  it('runs the handler once, even when its reports complete together with the input', async () => {
    const { factory, calls } = fakeHandler(() => 'REJECTED');
    const printed: ExecutionReport[] = [];
    const lines = new Subject<string>();
    const session = runSession({
      ...baseOptions,
      input: splitInput(lines),
      onReport: (report) => printed.push(report),
      createHandler: factory,
    });
    [line('a'), 'not json', line('b')].forEach((text) => lines.next(text));
    // Every report is out before the input ends: the handler's stream then completes with the input.
    await new Promise((resolve) => setTimeout(resolve, 20));
    lines.complete();
    const result = await session;
    expect(calls.runs).toBe(1);
    expect(result.endedBy).toBe('completed');
    expect(result.exitCode).toBe(0);
    expect(printed.map((r) => [r.signalId, r.status, r.pair])).toEqual([
      ['a', 'REJECTED', 'BTC/USD'],
      ['b', 'REJECTED', 'BTC/USD'],
    ]);
    expect(result.summary.skippedLines).toBe(1);
  });

  it('ends after the input once everything has settled, through the handler\'s stop()', async () => {
    const { factory, calls } = fakeHandler(() => 'REJECTED', false);
    const result = await runSession({ ...baseOptions, input: splitInput(of(line('a'))), onReport: () => undefined, createHandler: factory });
    expect(result.endedBy).toBe('settled');
    expect(calls).toEqual({ runs: 1, stops: 1 });
  });

  it('stops gracefully on a stop request while the input is still open', async () => {
    const { factory, calls } = fakeHandler(() => 'NEW', false);
    const stops = new Subject<string>();
    const lines = new Subject<string>();
    const session = runSession({ ...baseOptions, input: splitInput(lines), onReport: () => undefined, createHandler: factory, stopRequests$: stops });
    lines.next(line('a'));
    stops.next('SIGTERM');
    const result = await session;
    expect(result.endedBy).toBe('stop');
    expect(result.exitCode).toBe(0);
    expect(calls.stops).toBe(1);
    expect(result.summary.orders.map((o) => o.status)).toEqual(['NEW']);
    expect(lines.observed).toBe(false);
  });

  it('reports a failing handler with exit code 1 and still returns the summary', async () => {
    const factory = (() => ({
      connect: () => ({
        reports$: throwError(() => new Error('pair book unavailable')),
        start: () => undefined,
        stop: () => Promise.resolve(),
        positions: () => [],
      }),
    })) as unknown as typeof createExecutionHandler;
    const errors: unknown[] = [];
    const result = await runSession({
      ...baseOptions,
      log: { ...silent, error: (...args: unknown[]) => errors.push(args.join(' ')) },
      input: splitInput(NEVER),
      onReport: () => undefined,
      createHandler: factory,
    });
    expect(result).toMatchObject({ endedBy: 'failed', exitCode: 1 });
    expect(errors).toEqual(['the handler failed: pair book unavailable']);
  });
});
