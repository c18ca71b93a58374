import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { journalTable, measureJournal } from './journal';
import { busSkipLine, busTable, measureBus } from './bus';
import { failoverSkipLine, failoverTable, measureFailover } from './failover';
import { burstTable, measureBursts } from './burst';
import { clientOverheadTable, measureClientOverhead } from './client-overhead';
import { describeMachine, machineLines } from './machine';
import { callsPerTickTable, compareDesigns, loopbackTable, starterTierTable } from './monitor-calls';
import { measureSignalPath, signalPathTable } from './signal-path';
import { measureAtStarter, starterRunTable } from './starter-tier';
import { measureProtectionLatency, protectionBreakdownTable, protectionLatencyTable } from './protection-latency';
import { measureOrderState, orderStateTable } from './order-state';
import { measureReconcile, reconcileCallsTable, reconcilePlanTable } from './reconcile';
import { printTable } from './table';
import { fillLatencyTable, measureFillLatency } from './ws-latency';
import { measureReportLatency, measureRestSpend, reportLatencyTable, restSpendTable } from './feed-modes';

const OPEN_ORDER_COUNTS = [1, 10, 100, 1_000];

/** The memory figures need `--expose-gc` and a heap of their own: a child node process. */
function runChildBench(file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', join(__dirname, file)], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${file} exited with ${signal ?? code}`))));
  });
}

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/**
 * `npm run bench`: the monitor's REST calls per tick against the paper exchange over loopback HTTP, how long an
 * entry's fill waits for its stop-loss (with and without faults), fill → client latency over WebSocket vs a REST
 * poll, the signal path's throughput in memory, the heap each followed order costs, the whole handler with 10,000
 * working entries (heap, CPU per tick against the parse), bursts of signals, the per-request overhead against ccxt,
 * what journaling an intent and a fill costs, what reconciling 1,000 journaled orders at start costs, and (when
 * Redis is reachable) signals through the bus into the journal and their latency to the NEW report. Prints
 * figures; asserts nothing.
 */
async function main(): Promise<void> {
  const started = Date.now();
  process.stdout.write(`# kraken-rx-execution benchmarks\n\n${machineLines(describeMachine()).join('\n')}\n\n`);

  progress('monitor: placing resting orders on the paper exchange and following them with both designs …');
  const comparisons = await compareDesigns(OPEN_ORDER_COUNTS, progress);
  printTable(callsPerTickTable(comparisons));
  printTable(starterTierTable(comparisons));
  printTable(loopbackTable(comparisons));

  progress('monitor at starter tier: both designs paced by the rate gate, scaled clock …');
  printTable(starterRunTable(await measureAtStarter()));

  progress('fills: WebSocket executions vs one REST OpenOrders tick, loopback …');
  printTable(fillLatencyTable(await measureFillLatency()));
  progress('feed modes: REST calls per minute with 100 open orders (idle clock), fill → report through the handler (real time) …');
  printTable(restSpendTable(await measureRestSpend()));
  printTable(reportLatencyTable(await measureReportLatency()));
  progress('protection latency: fill → stop accepted, with and without paper faults, idle clock …');
  const latencyRuns = await measureProtectionLatency();
  printTable(protectionLatencyTable(latencyRuns));
  printTable(protectionBreakdownTable(latencyRuns));

  progress('signal path: haltGate + translate in memory …');
  printTable(signalPathTable(await measureSignalPath()));

  progress('memory: heap per followed order (child process with --expose-gc) …');
  await runChildBench('memory.js');

  progress('the whole handler: 10,000 working entries, heap and CPU per monitoring tick (child process with --expose-gc) …');
  await runChildBench('handler-load.js');

  progress('bursts: 10,000 signals at once, and the public calls signals cause …');
  printTable(burstTable(measureBursts()));

  progress('per-request overhead: this client against ccxt, in one process …');
  printTable(clientOverheadTable(await measureClientOverhead()));

  progress('journal: µs per intent and per fill, SQLite synchronous=FULL vs NORMAL, in-memory as the floor …');
  printTable(journalTable(measureJournal()));

  progress('order state machine: µs per transition, and the in-memory journal append against the order history …');
  printTable(orderStateTable(measureOrderState()));

  progress('reconciliation at start: 1,000 journaled orders settled with the paper exchange, starter-tier budget, idle clock …');
  const reconcileRuns = await measureReconcile();
  printTable(reconcileCallsTable(reconcileRuns));
  printTable(reconcilePlanTable(reconcileRuns));

  progress('the bus: 1,000 signals through Redis into the journal with run --bus, paper exchange on the unlimited tier …');
  const bus = await measureBus();
  if (bus === null) process.stdout.write(`${busSkipLine()}\n\n`);
  else printTable(busTable(bus));

  progress('failover: run --bus --cluster, the leader SIGKILLed 3 times, kill → the standby\'s first order accepted (child processes) …');
  const failover = await measureFailover();
  if (failover === null) process.stdout.write(`${failoverSkipLine()}\n\n`);
  else printTable(failoverTable(failover));

  progress(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
