import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { firstValueFrom, timer } from 'rxjs';
import { type StatusArgs } from './args';
import { loadConfig } from '../config/config';
import { accountFingerprint } from '../journal/account';
import { openSqliteJournal, readJournalAccount } from '../journal/sqlite';
import { clientRateBudget, krakenCostModel } from '../kraken/budget';
import { Credentials } from '../kraken/credentials';
import { createKrakenExchange } from '../kraken/exchange';
import { type ExecutionConfig } from '../model/config';
import { JournalError, type JournaledOrder, type RateCountersRecord } from '../model/journal';
import { errorMessage } from '../model/error-shape';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes';
import { type CliIo } from './io';
import { type ExchangeView, checkAgainstExchange, formatStatusJson, formatStatusText, journalStatus } from './journal-status';
import { printable } from './printable';

const KEY = 'KRAKEN_API_KEY';
const SECRET = 'KRAKEN_API_SECRET';

/**
 * `kraken-rx status`: what a journal holds — positions, working entries, resting protection and take-profit
 * watches — read from the file (the account is the one the file records). With `KRAKEN_API_KEY` and
 * `KRAKEN_API_SECRET` in the environment (and `--url`, as `run` takes them), it also asks the exchange once
 * (OpenOrders, after waiting for room on the key's REST counter as the journal last recorded it) and shows which
 * journaled open orders the exchange no longer shows open and which open orders of the handler's client order id
 * form the journal does not know; without them it says, in one line, that it did not ask.
 * No file at the path: a message and exit code 1 (nothing is created). A file that is not a readable journal, or
 * credentials of another account than the journal's: the `JournalError` that `main` turns into exit code 2.
 *
 * @param cwd The working directory relative paths are resolved against.
 */
export async function statusCommand(args: StatusArgs, io: CliIo, cwd: string = process.cwd()): Promise<number> {
  const config = loadConfig(args.config, args.url !== undefined ? { exchange: { url: args.url } } : undefined);
  const path = resolve(cwd, args.journal ?? config.journal.path);
  // Checked first: opening a missing file would create an empty journal, and say there is nothing to resume.
  if (!existsSync(path)) {
    io.stderr.write(`kraken-rx: no journal at ${printable(path)} (\`kraken-rx run\` writes it there; --journal FILE reads another)\n`);
    return EXIT_FAILURE;
  }
  const account = readJournalAccount(path);
  const credentials = credentialsIn(io.env);
  if (credentials !== null && accountFingerprint(credentials.apiKey) !== account) {
    throw new JournalError(
      'account-mismatch',
      `${path} is the journal of account ${account}, not of ${accountFingerprint(credentials.apiKey)} (the API key in the environment): nothing asked of the exchange`,
    );
  }
  const journal = openSqliteJournal({ path, account });
  const [orders, counters] = await Promise.all([firstValueFrom(journal.orders()), firstValueFrom(journal.lastRateCounters())]).finally(() =>
    firstValueFrom(journal.close()),
  );
  const exchange: ExchangeView =
    credentials === null
      ? { kind: 'not-checked', why: `no ${KEY} / ${SECRET} in the environment (journal only; set them, with --url, to compare with the open orders)` }
      : await askExchange(config, credentials, orders, counters, io).then(
          (check): ExchangeView => ({ kind: 'checked', check }),
          // The journal's view is worth having all the same; the exit code says the comparison asked for failed.
          (error: unknown): ExchangeView => ({
            kind: 'not-checked',
            failed: true,
            why: printable(`asking ${config.exchange.url} failed (${errorMessage(error)}); journal only`),
          }),
        );
  const status = journalStatus(orders);
  const source = { path, account };
  io.stdout.write(`${args.json ? formatStatusJson(source, status, exchange) : formatStatusText(source, status, exchange)}\n`);
  return exchange.kind === 'not-checked' && exchange.failed === true ? EXIT_FAILURE : EXIT_OK;
}

/** The credentials in the environment; `null` when neither variable is set; a half or malformed pair is an error naming the variable. */
function credentialsIn(env: CliIo['env']): Credentials | null {
  if ((env[KEY] ?? '') === '' && (env[SECRET] ?? '') === '') return null;
  return Credentials.fromEnv(env);
}

/**
 * One OpenOrders call, once the key's REST counter has room for it: the counter starts from what the journal last
 * recorded (a run may be using the same key), decayed since, or full when nothing was recorded.
 */
async function askExchange(
  config: ExecutionConfig,
  credentials: Credentials,
  orders: readonly JournaledOrder[],
  counters: RateCountersRecord | null,
  io: CliIo,
): Promise<ReturnType<typeof checkAgainstExchange>> {
  const budget = clientRateBudget(config.exchange.tier);
  const now = io.now();
  budget.seed(counters, now);
  const wait = budget.waitMs(krakenCostModel({ kind: 'openOrders' }), now);
  if (wait > 0) {
    io.stderr.write(`kraken-rx: waiting ${Math.ceil(wait / 1000)} s for room on the key's REST counter before OpenOrders\n`);
    await firstValueFrom(timer(wait));
  }
  const port = createKrakenExchange({ url: config.exchange.url, credentials, timeoutMs: config.exchange.requestTimeoutMs });
  const open = await firstValueFrom(port.openOrders());
  return checkAgainstExchange(orders, open, config.exchange.url);
}
