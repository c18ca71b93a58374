import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { type StatusArgs } from './args';
import { loadConfig } from '../config/config';
import { openSqliteJournal, readJournalAccount } from '../journal/sqlite';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes';
import { type CliIo } from './io';
import { formatStatusJson, formatStatusText, journalStatus } from './journal-status';
import { printable } from './printable';

/**
 * `kraken-rx status`: what a journal holds — positions, working entries, resting protection and take-profit
 * watches — read from the file alone (no exchange, no credentials: the account is the one the file records).
 * No file at the path: a message and exit code 1 (nothing is created). A file that is not a readable journal: the
 * `JournalError` that `main` turns into exit code 2.
 *
 * @param cwd The working directory relative paths are resolved against.
 */
export async function statusCommand(args: StatusArgs, io: CliIo, cwd: string = process.cwd()): Promise<number> {
  const config = loadConfig(args.config);
  const path = resolve(cwd, args.journal ?? config.journal.path);
  // Checked first: opening a missing file would create an empty journal, and say there is nothing to resume.
  if (!existsSync(path)) {
    io.stderr.write(`kraken-rx: no journal at ${printable(path)} (\`kraken-rx run\` writes it there; --journal FILE reads another)\n`);
    return EXIT_FAILURE;
  }
  const account = readJournalAccount(path);
  const journal = openSqliteJournal({ path, account });
  const orders = await firstValueFrom(journal.orders()).finally(() => firstValueFrom(journal.close()));
  const status = journalStatus(orders);
  const source = { path, account };
  io.stdout.write(`${args.json ? formatStatusJson(source, status) : formatStatusText(source, status)}\n`);
  return EXIT_OK;
}
