import { Subject, filter, firstValueFrom, throwError, timeout } from 'rxjs';
import { type ExecutionReport } from '../model/report';
import { type PaperExchange } from '../paper';
import { ScaledScheduler } from '../time/scaled-scheduler';
import { type DemoArgs } from './args';
import { loadConfig } from '../config/config';
import { formatReportJson, formatReportText, formatSummaryJson, formatSummaryText } from './format';
import { splitInput } from './input';
import { type CliIo, runNow } from './io';
import { createCliLogger } from './logging';
import { type RunJournal, openRunJournal } from './run-journal';
import { runSession } from './session';
import { openVenue } from './venue';

/** The demo's clock runs this much faster than the wall clock, for the handler and the paper exchange alike. */
export const DEMO_SPEED = 10;

/**
 * The demo's own settings, over the defaults: the same pipeline and rate limits (starter tier), with shorter
 * pauses so the whole story fits in a few seconds of the accelerated clock.
 */
export const DEMO_CONFIG = {
  mode: 'paper',
  logLevel: 'warn',
  entry: { limitTimeoutMs: 20_000 },
  monitor: { minIntervalMs: 1000, maxIntervalMs: 4000 },
  protection: { takeProfitPollMs: 1000 },
  lookup: { attempts: 6, intervalMs: 500 },
  retry: { initialDelayMs: 200, maxDelayMs: 5000 },
  paper: { port: 0, tier: 'starter' },
} as const;

/** What the script can do: say something, send an input line, move the market, wait for a report. */
export interface DemoStage {
  narrate(text: string): void;
  send(line: Record<string, unknown> | string): void;
  setPrice(pair: string, price: string): void;
  /** Resolves with the first report (already seen or to come) that matches; rejects after two minutes of the demo clock. */
  waitFor(what: string, match: (report: ExecutionReport) => boolean): Promise<ExecutionReport>;
}

const is =
  (signalId: string, role: ExecutionReport['role'], ...statuses: ExecutionReport['status'][]) =>
  (report: ExecutionReport): boolean =>
    report.signalId === signalId && report.role === role && statuses.includes(report.status);

/**
 * The scenario: every path of the handler, in order, against BTC/USD on the paper exchange (opening price
 * 60000; 0.5 BTC of liquidity per matching run, so large limit orders fill in parts).
 */
export async function demoScript(stage: DemoStage): Promise<void> {
  const { narrate, send, setPrice, waitFor } = stage;

  narrate('1. A market entry, protected by a resting stop-loss');
  send({ signalId: 'market-1', pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.01', stopLoss: '57000' });
  await waitFor('the stop-loss of market-1 to rest', is('market-1', 'stop-loss', 'NEW'));

  narrate('2. A limit entry that fills in parts (1.2 BTC, 0.5 BTC of liquidity per price move)');
  send({ signalId: 'limit-2', pair: 'BTC/USD', side: 'buy', orderType: 'limit', quantity: '1.2', limitPrice: '59900', stopLoss: '57000', timeoutMs: 60000 });
  await waitFor('limit-2 to rest', is('limit-2', 'entry', 'NEW'));
  for (const expected of ['0.5', '1']) {
    setPrice('BTC/USD', '59900');
    await waitFor(`limit-2 to fill ${expected}`, (r) => is('limit-2', 'entry', 'PARTIALLY_FILLED')(r) && r.quantityFilled.eq(expected));
  }
  setPrice('BTC/USD', '59900');
  await waitFor('limit-2 to fill', is('limit-2', 'entry', 'FILLED'));
  await waitFor('the stop-loss of limit-2 to rest', is('limit-2', 'stop-loss', 'NEW'));
  setPrice('BTC/USD', '60000');

  narrate('3. A limit entry cancelled by its timeout after a partial fill, then protected for what filled');
  send({ signalId: 'limit-3', pair: 'BTC/USD', side: 'buy', orderType: 'limit', quantity: '0.8', limitPrice: '59800', stopLoss: '57500', timeoutMs: 8000 });
  await waitFor('limit-3 to rest', is('limit-3', 'entry', 'NEW'));
  setPrice('BTC/USD', '59800');
  await waitFor('limit-3 to fill in part', is('limit-3', 'entry', 'PARTIALLY_FILLED'));
  setPrice('BTC/USD', '60000');
  await waitFor('limit-3 to be cancelled at its timeout', is('limit-3', 'entry', 'CANCELED'));
  await waitFor('the stop-loss of limit-3 (0.5 BTC) to rest', is('limit-3', 'stop-loss', 'NEW'));

  narrate('4. A stop-loss hit (its take-profit watch ends)');
  send({ signalId: 'stop-4', pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.02', stopLoss: '59000', takeProfit: '62000' });
  await waitFor('the stop-loss of stop-4 to rest', is('stop-4', 'stop-loss', 'NEW'));
  setPrice('BTC/USD', '58900');
  await waitFor('the stop-loss of stop-4 to fill', is('stop-4', 'stop-loss', 'FILLED'));

  narrate('5. A take-profit reached: the stop is cancelled (and confirmed), then the position is sold');
  send({ signalId: 'take-5', pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.03', stopLoss: '56000', takeProfit: '60500' });
  await waitFor('the stop-loss of take-5 to rest', is('take-5', 'stop-loss', 'NEW'));
  setPrice('BTC/USD', '60600');
  await waitFor('the stop-loss of take-5 to be cancelled', is('take-5', 'stop-loss', 'CANCELED'));
  await waitFor('the take-profit of take-5 to fill', (r) => r.signalId === 'take-5' && r.role === 'take-profit' && r.status === 'FILLED');

  narrate('6. HALT: a new entry is rejected while halted');
  send({ type: 'halt', halted: true });
  send({ signalId: 'halted-6', pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.01' });
  await waitFor('halted-6 to be rejected', is('halted-6', 'entry', 'REJECTED'));
  send({ type: 'halt', halted: false });

  narrate('7. An invalid signal is rejected with its reason; a line that is not a signal is skipped');
  send({ signalId: 'invalid-7', pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.00001' });
  await waitFor('invalid-7 to be rejected', is('invalid-7', 'entry', 'REJECTED'));
  send('this line is not JSON');

  narrate('8. Close the BTC/USD position: its resting stops are cancelled first, then it is sold at market');
  send({ type: 'close', commandId: 'close-8', pair: 'BTC/USD' });
  await waitFor('the close to fill', is('close-8', 'close', 'FILLED'));
}

/**
 * `kraken-rx demo` (`npm start`): the paper exchange in-process on an ephemeral port, the handler over real
 * HTTP, the scripted scenario, a timeline of reports and the summary. Exit 0 when every step happened.
 */
export async function demoCommand(args: DemoArgs, io: CliIo, speed: number = DEMO_SPEED): Promise<number> {
  const config = loadConfig(undefined, { ...DEMO_CONFIG, ...(args.logLevel !== undefined ? { logLevel: args.logLevel } : {}) });
  const log = createCliLogger(config.logLevel, io.stderr, runNow(io));
  // For a person: a clock `speed` times faster than the wall clock. A test's run clock replaces it.
  const scheduler = io.clock ?? new ScaledScheduler(speed, io.now);
  const origin = scheduler.now();
  const venue = await openVenue(config, {
    env: io.env,
    log,
    ...(io.clock ? { clock: io.clock } : {}),
    scheduler,
    // The paper exchange's heartbeats run on real timers, a second apart: `speed` seconds on the demo's clock.
    ...(io.clock ? {} : { feedWatchdogMs: 10_000 * speed }),
    // No random walk: the script moves the price, so every run tells the same story.
    paper: { clock: () => scheduler.now(), balances: { ZUSD: '250000', XXBT: '5' }, autoTick: 0 },
  });
  const paper = venue.paper as PaperExchange;
  let journal: RunJournal | null = null;
  const out = (line: string): void => {
    io.stdout.write(`${line}\n`);
  };
  // Narration is for people: in JSON mode it goes to stderr so stdout stays pure JSON lines.
  const say = args.json ? (line: string) => io.stderr.write(`${line}\n`) : out;
  const lines$ = new Subject<string>();
  const seen: ExecutionReport[] = [];
  const seen$ = new Subject<ExecutionReport>();
  try {
    // A new paper account every run: nothing journaled could be resumed, so the journal is temporary.
    journal = openRunJournal({ kind: 'temporary' }, venue.account);
    log.info(journal.description);
    say(`kraken-rx demo: the handler against the paper exchange at ${paper.url}, over real HTTP`);
    say(`(starter-tier rate limits; both run on one clock ${speed}x faster than real time; times below are on that clock)`);
    const session = runSession({
      config,
      port: venue.port,
      budget: venue.budget,
      costs: venue.costs,
      log,
      journal: journal.journal,
      ...(venue.feed ? { feed: venue.feed } : {}),
      scheduler,
      input: splitInput(lines$),
      onReport: (report) => {
        out(args.json ? formatReportJson(report) : formatReportText(report, origin));
        seen.push(report);
        seen$.next(report);
      },
      stopRequests$: io.stopRequests,
      waitingLogEveryMs: 5000,
    });
    const stage: DemoStage = {
      narrate: (text) => say(`\n── ${text}`),
      send: (line) => {
        const text = typeof line === 'string' ? line : JSON.stringify(line);
        say(`> ${text}`);
        lines$.next(text);
      },
      setPrice: (pair, price) => {
        say(`~ ${pair} price -> ${price}`);
        paper.setPrice(pair, price);
      },
      waitFor: (what, match) => {
        const found = seen.find(match);
        if (found !== undefined) return Promise.resolve(found);
        return firstValueFrom(
          seen$.pipe(
            filter(match),
            timeout({ first: 120_000, scheduler, with: () => throwError(() => new Error(`demo: gave up waiting for ${what}`)) }),
          ),
        );
      },
    };
    let scriptFailed: unknown = null;
    try {
      await Promise.race([demoScript(stage), session.then(() => { throw new Error('demo: the run ended before the script did'); })]);
    } catch (e) {
      scriptFailed = e;
    }
    lines$.complete();
    const result = await session;
    out(args.json ? formatSummaryJson(result.summary) : formatSummaryText(result.summary));
    if (scriptFailed !== null && result.endedBy !== 'stop') {
      log.error(scriptFailed instanceof Error ? scriptFailed.message : String(scriptFailed));
      return 1;
    }
    return result.exitCode;
  } finally {
    seen$.complete();
    try {
      await journal?.close();
    } finally {
      await venue.close();
    }
  }
}
