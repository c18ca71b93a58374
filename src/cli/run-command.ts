import { firstValueFrom } from 'rxjs';
import { type RunArgs, UsageError } from './args';
import { busOptionsProblem } from '../bus/redis-bus';
import { runConsumerName } from './bus-run';
import { loadConfig } from '../config/config';
import { runClustered } from './cluster-run';
import { signalsSourceProblem } from './input';
import { type CliIo, runNow } from './io';
import { createCliLogger } from './logging';
import { printable } from './printable';
import { formatJournalKeeps, journalStatus } from './journal-status';
import { type RunJournal, openRunJournal, planJournal } from './run-journal';
import { runHandler } from './handler-run';
import { openVenue } from './venue';

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
  try {
    journal = openRunJournal(plan, venue.account);
    log.info(journal.description);
    const { result, busFailed } = await runHandler({ args, io, config, log, venue, journal: journal.journal, port: venue.port });
    // Whatever the log level: what the next start resumes (take-profit watches included) is never dropped silently.
    const keeps = plan.kind === 'file' ? await journalKeeps(journal, plan.path) : null;
    if (keeps !== null) io.stderr.write(`kraken-rx: ${keeps}\n`);
    return busFailed && result.exitCode === 0 ? 1 : result.exitCode;
  } finally {
    try {
      await journal?.close();
    } finally {
      await venue.close();
    }
  }
}
