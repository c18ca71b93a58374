import { EMPTY, type Observable, defer, finalize, firstValueFrom, merge } from 'rxjs';
import { type Journal } from '../model/journal';
import { type ExecutionConfig } from '../model/config';
import { type ExchangePort } from '../model/port';
import { type Logger } from '../streams/deps';
import { type RunArgs } from './args';
import { type BusRun, openBusRun } from './bus-run';
import { formatLeftLive, formatReportJson, formatReportText, formatSkippedJson, formatSkippedText, formatSummaryJson, formatSummaryText } from './format';
import { inputLines, splitInput } from './input';
import { type CliIo } from './io';
import { type SessionResult, runSession } from './session';
import { type Venue } from './venue';

/**
 * The input lines. On a run's virtual clock a file is read before time may move (reading it is I/O the clock cannot
 * see otherwise), so its lines act at one instant in every run; stdin stays live, as a person types into it.
 */
function readInput(source: string, io: CliIo): Observable<string> {
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
async function haltAtStart(journal: Journal, log: Logger): Promise<boolean> {
  try {
    const halted = (await firstValueFrom(journal.lastHalt()))?.halted ?? false;
    if (halted) log.info('HALT is on, as the journal last recorded it: new entries are rejected until {"type":"halt","halted":false}');
    return halted;
  } catch (e) {
    log.error(`the journal's HALT state cannot be read (${e instanceof Error ? e.message : String(e)}): starting halted`);
    return true;
  }
}

/** What a run of the handler needs once its journal is open (`run`, and `run --cluster` once it leads). */
export interface HandlerRunOptions {
  readonly args: RunArgs;
  readonly io: CliIo;
  readonly config: ExecutionConfig;
  readonly log: Logger;
  readonly venue: Venue;
  readonly journal: Journal;
  /** The port the handler trades through: the venue's, or one gated by the lease. */
  readonly port: ExchangePort;
  /** Stop requests besides the user's (a lost lease). */
  readonly alsoStop$?: Observable<string>;
}

/** How the run ended: the session's result, and whether the bus failed for good (read, or its last writes). */
export interface HandlerRunEnd {
  readonly result: SessionResult;
  readonly busFailed: boolean;
}

/**
 * The part of `kraken-rx run` that is the same with a file journal and in a cluster: the input (stdin or a file,
 * starting from the journal's HALT; or the account's bus stream with `--bus`), each report printed (and written to
 * the reports stream), the session, the bus let go once the last reports are on it, and then what may still be live
 * (after a second stop request) and the summary printed.
 *
 * @param options The run's flags, process, config, venue, open journal and port.
 * @returns How it ended; the bus (if any) is closed.
 */
export async function runHandler(options: HandlerRunOptions): Promise<HandlerRunEnd> {
  const { args, io, log, venue } = options;
  let bus: BusRun | null = null;
  try {
    if (args.bus !== undefined) bus = await openBusRun({ url: args.bus, account: args.account ?? '', journal: options.journal, log });
    else if (args.signals === '-') log.info('reading signals from stdin (one JSON object per line; end with Ctrl-D)');
    const onBus = bus;
    const result = await runSession({
      config: options.config,
      port: options.port,
      budget: venue.budget,
      costs: venue.costs,
      log,
      journal: onBus?.journal ?? options.journal,
      ...(venue.feed ? { feed: venue.feed } : {}),
      ...(io.clock ? { scheduler: io.clock } : {}),
      input: onBus?.input ?? splitInput(readInput(args.signals, io), await haltAtStart(options.journal, log)),
      onReport: (report) => {
        io.stdout.write(`${args.json ? formatReportJson(report) : formatReportText(report)}\n`);
        onBus?.report(report);
      },
      // On stdout with the reports, whatever the log level: a skipped line is an input the trader's system sent.
      onSkippedLine: (skipped) => io.stdout.write(`${args.json ? formatSkippedJson(skipped) : formatSkippedText(skipped)}\n`),
      stopRequests$: merge(io.stopRequests, options.alsoStop$ ?? EMPTY, onBus?.failed$ ?? EMPTY),
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
    return { result, busFailed: busEnd?.failed === true };
  } finally {
    await bus?.close();
  }
}
