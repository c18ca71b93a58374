import { type Observable, defer, finalize, firstValueFrom, merge } from 'rxjs';
import { type RunArgs, UsageError } from './args';
import { busOptionsProblem } from '../bus/redis-bus';
import { type BusRun, openBusRun, runConsumerName } from './bus-run';
import { loadConfig } from '../config/config';
import { runClustered } from './cluster-run';
import { formatLeftLive, formatReportJson, formatReportText, formatSkippedJson, formatSkippedText, formatSummaryJson, formatSummaryText } from './format';
import { inputLines, signalsSourceProblem, splitInput } from './input';
import { type CliIo, runNow } from './io';
import { createCliLogger } from './logging';
import { printable } from './printable';
import { formatJournalKeeps, journalStatus } from './journal-status';
import { type RunJournal, openRunJournal, planJournal } from './run-journal';
import { runSession } from './session';
import { openVenue } from './venue';
import { type Journal } from '../model/journal';
import { type Logger } from '../streams/deps';

/** The command-line flags that override config keys, as a partial config merged over the file. */
export function configOverrides(args: RunArgs): Record<string, unknown> {
  const exchange: Record<string, unknown> = {};
  if (args.url !== undefined) exchange['url'] = args.url;
  if (args.validateOnly) exchange['validateOnly'] = true;
  return {
    // --url talks to an exchange someone else runs (Kraken, or `kraken-rx paper`): credentials as for live.
    ...(args.paper ? { mode: 'paper' } : args.url !== undefined ? { mode: 'live' } : {}),
    ...(args.logLevel !== undefined ? { logLevel: args.logLevel } : {}),
    ...(Object.keys(exchange).length > 0 ? { exchange } : {}),
  };
}

/**
 * The input lines. On a run's virtual clock a file is read before time may move (reading it is I/O the clock cannot
 * see otherwise), so its lines act at one instant in every run; stdin stays live, as a person types into it.
 */
export function readInput(source: string, io: CliIo): Observable<string> {
  const lines$ = inputLines(source, io.stdin);
  const clock = io.clock;
  if (!clock || source === '-') return lines$;
  return defer(() => {
    const release = clock.links.hold();
    return lines$.pipe(finalize(release));
  });
}

/**
 * HALT as the journal last recorded it, for a run reading stdin or a file: a HALT sent to an earlier run holds
 * after a crash or a restart until a `{"type":"halt","halted":false}` line. A journal that cannot say halts
 * (an unreadable HALT halts).
 */
export async function haltAtStart(journal: Journal, log: Logger): Promise<boolean> {
  try {
    const halted = (await firstValueFrom(journal.lastHalt()))?.halted ?? false;
    if (halted) log.info('HALT is on, as the journal last recorded it: new entries are rejected until {"type":"halt","halted":false}');
    return halted;
  } catch (e) {
    log.error(`the journal's HALT state cannot be read (${e instanceof Error ? e.message : String(e)}): starting halted`);
    return true;
  }
}

/** The line that says what the journal keeps for the next start, or `null`; a journal that cannot be read says so. */
async function journalKeeps(journal: RunJournal, path: string): Promise<string | null> {
  try {
    return formatJournalKeeps(path, journalStatus(await firstValueFrom(journal.journal.orders())));
  } catch (e) {
    return printable(`could not read back the journal ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * `kraken-rx run`: the handler on JSON-line input, reports on stdout, logs on stderr. Ends at the end of the
 * input once every order is final (protective orders may stay resting), or gracefully on SIGINT/SIGTERM;
 * both print the summary and exit 0. Orders are journaled (`planJournal`) under the account of the API key in
 * use; the journal is closed at exit, a temporary one removed. A journal of another account stops the start
 * (a `JournalError` that `main` turns into exit code 2). With `--bus` the input is the account's Redis stream
 * and every report is written to its reports stream too (`openBusRun`); a stream has no end, so the run goes on
 * until a stop request, and exits 1 if reading the bus failed for good.
 */
export async function runCommand(args: RunArgs, io: CliIo): Promise<number> {
  const busProblem = args.bus === undefined ? null : busOptionsProblem({ url: args.bus, account: args.account ?? '', consumer: runConsumerName() });
  if (busProblem !== null) throw new UsageError(busProblem.replace(/^bus account/, '--account').replace(/^the bus URL/, '--bus'), 'run');
  if (args.cluster !== undefined) return runClustered({ ...args, cluster: args.cluster }, io);
  const unreadable = args.bus === undefined ? signalsSourceProblem(args.signals) : null;
  if (unreadable !== null) throw new UsageError(`--signals: ${unreadable}`, 'run', false);
  const config = loadConfig(args.config, configOverrides(args));
  // Decided before anything starts: a --journal that cannot be used is a usage error, not a failed run.
  const plan = planJournal(args, config);
  const log = createCliLogger(config.logLevel, io.stderr, runNow(io));
  const venue = await openVenue(config, { env: io.env, log, ...(io.clock ? { clock: io.clock } : {}) });
  // The feed (if any) is ended by `venue.close()`, after the handler has stopped.
  let journal: RunJournal | null = null;
  // With --bus: the input from the account's stream, each report also written to its reports stream (bus-run.ts).
  let bus: BusRun | null = null;
  try {
    journal = openRunJournal(plan, venue.account);
    log.info(journal.description);
    if (args.bus !== undefined) bus = await openBusRun({ url: args.bus, account: args.account ?? '', journal: journal.journal, log });
    else if (args.signals === '-') log.info('reading signals from stdin (one JSON object per line; end with Ctrl-D)');
    const onBus = bus;
    const result = await runSession({
      config,
      port: venue.port,
      budget: venue.budget,
      costs: venue.costs,
      log,
      journal: onBus?.journal ?? journal.journal,
      ...(venue.feed ? { feed: venue.feed } : {}),
      ...(io.clock ? { scheduler: io.clock } : {}),
      input: onBus?.input ?? splitInput(readInput(args.signals, io), await haltAtStart(journal.journal, log)),
      onReport: (report) => {
        io.stdout.write(`${args.json ? formatReportJson(report) : formatReportText(report)}\n`);
        onBus?.report(report);
      },
      // On stdout with the reports, whatever the log level: a skipped line is an input the trader's system sent.
      onSkippedLine: (skipped) => io.stdout.write(`${args.json ? formatSkippedJson(skipped) : formatSkippedText(skipped)}\n`),
      stopRequests$: onBus ? merge(io.stopRequests, onBus.failed$) : io.stopRequests,
    });
    // Before the summary: the reports still in flight are on the stream, and what they release is acknowledged.
    const busEnd = await bus?.close();
    if (result.exitCode === 130) {
      // Whatever the log level: the person who pressed Ctrl-C twice must know what to look at on the exchange.
      const lines = formatLeftLive(result.mayBeLive, result.summary.restingProtection);
      if (venue.paper !== null) lines.push('(the embedded paper exchange closes with this run: nothing stays live on it)');
      io.stderr.write(lines.map((line) => `kraken-rx: ${line}\n`).join(''));
    }
    io.stdout.write(`${args.json ? formatSummaryJson(result.summary) : formatSummaryText(result.summary)}\n`);
    // Whatever the log level: what the next start resumes (take-profit watches included) is never dropped silently.
    const keeps = plan.kind === 'file' ? await journalKeeps(journal, plan.path) : null;
    if (keeps !== null) io.stderr.write(`kraken-rx: ${keeps}\n`);
    return busEnd?.failed === true && result.exitCode === 0 ? 1 : result.exitCode;
  } finally {
    try {
      await bus?.close();
    } finally {
      try {
        await journal?.close();
      } finally {
        await venue.close();
      }
    }
  }
}
