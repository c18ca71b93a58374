import { type Observable, firstValueFrom, ignoreElements, merge, tap, timer } from 'rxjs';
import { defaultConfig } from '../src/config/config';
import { KrakenRateBudget } from '../src/kraken/budget';
import { Credentials } from '../src/kraken/credentials';
import { createKrakenExchange } from '../src/kraken/exchange';
import { type OrderSnapshot } from '../src/model/order';
import { type ExchangePort } from '../src/model/port';
import { startPaperExchange } from '../src/paper';
import { type ExchangeDeps } from '../src/streams/deps';
import { exchangeCall } from '../src/streams/exchange-call';
import { defaultTuning } from '../src/streams/execution-handler';
import { ScaledScheduler } from '../src/time/scaled-scheduler';
import { CountingPort } from './counting-port';
import { type Design, monitorDeps, placeAll, plan, sharedMonitor } from './monitor-calls';
import { pollEachOrder } from './per-order-polling';
import { type Table, count, fixed, seconds } from './table';

/** Starter allows 60 open orders per pair; 100 over six pairs stays well inside. */
export const STARTER_OPEN_ORDERS = 100;
/** Paper time each design runs for. */
const RUN_MS = 180_000;
/** Paper ms per real ms: 180 paper-seconds take 3.6 real seconds, and Kraken's decay keeps its proportions. */
const SPEED = 50;

interface StarterRun {
  readonly design: Design;
  readonly openOrders: number;
  readonly paperSeconds: number;
  readonly openOrdersCalls: number;
  readonly queryOrdersCalls: number;
  readonly rateLimitErrors: number;
  /** Snapshots of an order delivered to the follower (one order seen once). */
  readonly orderReadings: number;
}

/** Per-order polling made polite: each QueryOrders goes through the handler's own call path (rate gate, snap, retry). */
function gated(port: ExchangePort, deps: ExchangeDeps): ExchangePort {
  return {
    placeOrder: (request) => port.placeOrder(request),
    cancelOrder: (ref) => port.cancelOrder(ref),
    queryOrders: (txids) => exchangeCall(deps, 'monitor', () => ({ kind: 'queryOrders' }), () => port.queryOrders(txids), 'idempotent'),
    openOrders: (filter) => port.openOrders(filter),
    closedOrders: (filter) => port.closedOrders(filter),
    ticker: (pairs) => port.ticker(pairs),
    pairs: () => port.pairs(),
  };
}

/**
 * One design at Kraken's starter tier, for real: the paper exchange enforces starter's REST counter (max 15,
 * decay 0.33/s) and the client paces itself with the same model, on one clock running `SPEED` times faster.
 */
async function runAtStarter(design: Design, seed: number): Promise<StarterRun> {
  const scheduler = new ScaledScheduler(SPEED);
  const paper = await startPaperExchange({ tier: 'starter', seed, clock: () => scheduler.now() });
  try {
    const exchange = createKrakenExchange({ url: paper.url, credentials: new Credentials(paper.apiKey, paper.apiSecret), timeoutMs: 60_000 });
    const txids = await placeAll(exchange, plan(STARTER_OPEN_ORDERS, 0));
    const budget = new KrakenRateBudget('starter');
    const config = defaultConfig();
    const counting = new CountingPort(exchange, paper, design === 'shared monitor');
    let snapshots$: Observable<OrderSnapshot>;
    if (design === 'shared monitor') {
      snapshots$ = sharedMonitor(counting, txids, config, monitorDeps(counting, config, budget, scheduler));
    } else {
      const polite = gated(counting, monitorDeps(counting, config, budget, scheduler));
      snapshots$ = pollEachOrder(polite, txids, config.monitor.minIntervalMs, () => counting.tickBoundary(), scheduler);
    }
    const startedAt = scheduler.now();
    const before = { open: paper.inspect.requestCount('OpenOrders'), query: paper.inspect.requestCount('QueryOrders') };
    let orderReadings = 0;
    await firstValueFrom(
      merge(
        snapshots$.pipe(
          tap(() => {
            orderReadings += 1;
          }),
          ignoreElements(),
        ),
        timer(RUN_MS, scheduler),
      ),
    );
    const errors = paper.inspect.rateLimitErrors();
    return {
      design,
      openOrders: STARTER_OPEN_ORDERS,
      paperSeconds: (scheduler.now() - startedAt) / 1000,
      openOrdersCalls: paper.inspect.requestCount('OpenOrders') - before.open,
      queryOrdersCalls: paper.inspect.requestCount('QueryOrders') - before.query,
      rateLimitErrors: errors.rest + errors.trading,
      orderReadings,
    };
  } finally {
    await paper.close();
  }
}

export async function measureAtStarter(): Promise<StarterRun[]> {
  return [await runAtStarter('shared monitor', 3000), await runAtStarter('per-order polling', 3001)];
}

export function starterRunTable(runs: readonly StarterRun[]): Table {
  return {
    title: `Measured at starter tier: ${count(STARTER_OPEN_ORDERS)} open orders for ${RUN_MS / 1000} s of paper time (clock ×${SPEED}), both sides enforcing the REST counter`,
    columns: ['design', 'REST calls (server)', 'calls/s', 'rate-limit errors', 'order readings', 'readings per order', 'seconds per full refresh'],
    rows: runs.map((run) => {
      const calls = run.openOrdersCalls + run.queryOrdersCalls;
      const perOrder = run.orderReadings / run.openOrders;
      return [
        run.design,
        count(calls),
        fixed(calls / run.paperSeconds, 2),
        count(run.rateLimitErrors),
        count(run.orderReadings),
        fixed(perOrder, 1),
        perOrder > 0 ? seconds(run.paperSeconds / perOrder) : 'never',
      ];
    }),
    notes: [
      'Both designs call through the handler\'s own path (RateGate on the starter budget model, snap and retry on a rate-limit error); the paper',
      'exchange enforces the same counter on its side and counts every "EAPI:Rate limit exceeded" it returns. Averages include the 15-unit burst',
      `at the start; sustained, 0.33 calls/s remain, of which the monitor leaves ${defaultTuning(defaultConfig()).monitorReserveUnits} units in reserve for lookups and closes.`,
      '"order readings" = snapshots delivered to the follower; "seconds per full refresh" = paper seconds / readings per order.',
    ],
  };
}
