import { it } from '@jest/globals';
import { type ExecutionConfig } from '../../src/model/config';
import { type TradeSignal } from '../../src/model/signal';
import { config as baseConfig, marbles } from './fake-exchange';
import { ordersOfType, run } from './scenario';
const config: ExecutionConfig = { ...baseConfig, breaker: { failureThreshold: 100, cooldownMs: 60_000 } };
const first: TradeSignal = { signalId: 'first', pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: '0.05', stopLoss: '57000' };
const later: TradeSignal = { signalId: 'later', pair: 'XBTUSD', side: 'buy', orderType: 'market', quantity: '0.03', stopLoss: '56000' };
it('stuck', () => {
  marbles(({ hot, flush, scheduler }) => {
    const small: TradeSignal = { ...first, signalId: 'small', quantity: '0.02' };
    const { handler, reports, exchange } = run(scheduler, { signals$: hot('a b', { a: small, b: later }), commands$: hot('5000ms c', { c: { commandId: 'close-1', pair: 'XBTUSD' } }) }, { config, price: '60000', runLimitMs: 200_000 });
    const stuck = (): string | undefined => ordersOfType(exchange, 'stop-loss')[1]?.txid;
    exchange.refuse('CancelOrder', process.env.CODE ?? 'EGeneral:Internal error', { when: (params) => params['txid'] !== undefined && params['txid'] === stuck() });
    scheduler.schedule(() => void handler.stop(), 120_000);
    flush();
    const tail = exchange.sent().filter((r) => r.frame > 100_000);
    console.log(tail.slice(0, 30).map((r) => `${r.frame} ${r.method} ${JSON.stringify(r.params)}`).join('\n'), tail.length);
    console.log(reports.filter((r) => r.timestamp > 4_000).map((r) => `${r.timestamp} ${r.signalId} ${r.role} ${r.status} ${r.reason ?? ''}`).join('\n'));
  });
});
