import { type PaperInspector } from '../../../src/paper';
import { seededRandom } from '../../../src/testing/seeded';
import { type OutputLine } from './crash-child';
import { type KillPlan, type KillTrigger } from './crash-run';

/**
 * Where the crash test kills `kraken-rx run`: named points (a report of the scenario, or the exchange seeing a
 * restarted start's first reconciliation call) and seeded random points (the n-th stdout line of a start, then a few
 * ms). `kills[i]` applies to the i-th start, so one run can be killed at several points in a row.
 */

const report =
  (signalId: string, role: string, status: string, reason?: RegExp) =>
  (line: OutputLine): boolean =>
    line['signalId'] === signalId &&
    line['role'] === role &&
    line['status'] === status &&
    (reason === undefined || (typeof line['reason'] === 'string' && reason.test(line['reason'])));

const at = (label: string, signalId: string, role: string, status: string, reason?: RegExp): KillTrigger => ({
  label,
  report: report(signalId, role, status, reason),
});

/** The private calls a start makes to find out what the exchange did while it was down. */
const RECONCILE_CALLS = ['OpenOrders', 'ClosedOrders', 'QueryOrders', 'TradesHistory'];

const reconcileCalls = (inspect: PaperInspector): number => RECONCILE_CALLS.reduce((sum, method) => sum + inspect.requestCount(method), 0);

/** Kills a (restarted) start as soon as the exchange has its first reconciliation call, `delayMs` after that. */
export const duringReconciliation = (delayMs = 0): KillTrigger => ({
  label: `during reconciliation (+${delayMs} ms)`,
  when: (inspect) => {
    const before = reconcileCalls(inspect);
    return () => reconcileCalls(inspect) > before;
  },
  delayMs,
});

/** Kills as soon as the exchange has filled `executed` of the buy of `volume`: before the handler's next poll sees it. */
const filledOnExchange = (label: string, volume: string, executed: string): KillTrigger => ({
  label,
  when: (inspect) => () => inspect.orders().some((order) => order.side === 'buy' && order.volume.eq(volume) && order.volumeExecuted.gte(executed)),
});

/** The named points, one kill each: the points the issue names, at the reports that mark them. */
export const NAMED = {
  entrySent: at('s1 entry PENDING_NEW reported (its AddOrder may not have left)', 's1', 'entry', 'PENDING_NEW'),
  entryAccepted: {
    label: 's1 entry accepted by the exchange, before its answer is read',
    when: (inspect) => () => inspect.orders().some((order) => order.side === 'buy' && order.volume.eq('0.011')),
  },
  fillUnseen: filledOnExchange('s1 filled on the exchange, before the handler saw it', '0.011', '0.011'),
  fillBeforeStop: at('s1 FILLED reported, its stop-loss about to be sent', 's1', 'entry', 'FILLED'),
  partialUnseen: filledOnExchange('s2 partly filled on the exchange, before the handler saw it', '0.012', '0.005'),
  partialFill: at('s2 partly filled, before its timeout', 's2', 'entry', 'PARTIALLY_FILLED'),
  timeoutCancel: at('s2 timeout cancel sent', 's2', 'entry', 'PENDING_CANCEL', /timeout/),
  cancelledBeforeStop: at('s2 cancelled at its timeout, before the stop of its partial fill', 's2', 'entry', 'CANCELED'),
  stopSent: at('s3 stop-loss sent, before its AddOrder answer', 's3', 'stop-loss', 'PENDING_NEW'),
  takeProfitCancel: at('s3 take-profit reached: its stop-loss cancel sent', 's3', 'stop-loss', 'PENDING_CANCEL', /take-profit/),
  takeProfitSell: at('s3 take-profit sell sent', 's3', 'take-profit', 'PENDING_NEW'),
  closeCancel: at('close c1: a stop-loss cancel sent', 's1', 'stop-loss', 'PENDING_CANCEL', /close/),
  closeSell: at('close c1: its sell sent', 'c1', 'close', 'PENDING_NEW'),
} satisfies Record<string, KillTrigger>;

/**
 * The named points each alone (opt-in), and grouped into a few runs of successive kills (every run, CI included):
 * together the groups hit every named point, two of them killing a restarted start during its reconciliation; the
 * points during a close have their own run.
 */
export function namedPlans(alone: boolean): KillPlan[] {
  const groups: KillPlan[] = [
    {
      name: 'named: AddOrder in flight, partly filled, timeout cancel in flight, take-profit sell in flight',
      kills: [NAMED.entrySent, NAMED.partialFill, NAMED.timeoutCancel, NAMED.takeProfitSell],
    },
    {
      name: 'named: filled unseen, during that reconciliation, cancelled before the stop of a partial fill, take-profit cancel in flight',
      kills: [NAMED.fillUnseen, duringReconciliation(), NAMED.cancelledBeforeStop, NAMED.takeProfitCancel],
    },
    {
      name: 'named: accepted before the answer, FILLED before its stop, partly filled unseen, stop-loss in flight, during that reconciliation',
      kills: [NAMED.entryAccepted, NAMED.fillBeforeStop, NAMED.partialUnseen, NAMED.stopSent, duringReconciliation(20)],
    },
    {
      name: 'named: during a close: a stop-loss cancel in flight, then its sell in flight',
      kills: [NAMED.closeCancel, NAMED.closeSell],
    },
  ];
  if (!alone) return groups;
  const single = Object.values(NAMED).map((trigger): KillPlan => ({ name: `named alone: ${trigger.label}`, kills: [trigger] }));
  return [...single, ...groups];
}

/** About how many stdout lines one start of the scenario prints (reports, then the summary). */
const LINES_PER_RUN = 30;

/**
 * `count` seeded random plans: each kills the first start after a random stdout line plus 0–40 ms, and now and then
 * the start after it too (during its reconciliation, or after a few of its lines).
 */
export function randomPlans(seed: number, count: number): KillPlan[] {
  // The kit's seeded source: a failing random point can be run again from its seed.
  const next = seededRandom(seed);
  const pick = (n: number): number => Math.floor(next() * n);
  return Array.from({ length: count }, (_, index): KillPlan => {
    const kills: KillTrigger[] = [];
    const kill = (): KillTrigger => {
      const line = 1 + pick(LINES_PER_RUN);
      const delayMs = pick(41);
      return { label: `after stdout line ${line} + ${delayMs} ms`, afterLines: line, delayMs };
    };
    kills.push(kill());
    const second = next();
    if (second < 0.25) kills.push(duringReconciliation(pick(60)));
    else if (second < 0.5) kills.push(kill());
    return { name: `random #${index} (seed ${seed})`, kills };
  });
}
