import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { type CliConfig } from '../config/config';
import { openMemoryJournal } from '../journal/memory';
import { openSqliteJournal } from '../journal/sqlite';
import { type Journal } from '../model/journal';
import { UsageError } from './args';

/**
 * Which journal a run writes. `file`: the SQLite file that outlives the run (the default). `temporary`: a SQLite
 * file in the OS temp directory, removed at exit — for the embedded paper exchange, whose account is new every run,
 * so nothing journaled could be resumed. `memory`: nothing written anywhere — `--no-journal`, or a validate-only run,
 * whose orders are never placed: journaled, their signal ids would make the real run's same signals duplicates, and
 * an intent left unresolved would be looked up (and could be resent) by the next start.
 */
export type JournalPlan =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'temporary' }
  | { readonly kind: 'memory'; readonly why: 'no-journal' | 'validate-only' };

/** The journal flags of a command line (`run` has both; the demo neither). */
export interface JournalFlags {
  readonly journal?: string;
  readonly noJournal?: boolean;
}

/**
 * Decides the run's journal from its flags and config: `--no-journal` or validate-only → memory; mode `paper` →
 * temporary; else `--journal FILE`, or config `journal.path`, resolved against the working directory.
 *
 * @param cwd The working directory relative paths are resolved against.
 * @throws UsageError for `--journal` with validate-only or with the embedded paper exchange: the flag would be ignored.
 */
export function planJournal(flags: JournalFlags, config: CliConfig, cwd: string = process.cwd()): JournalPlan {
  if (flags.noJournal === true) return { kind: 'memory', why: 'no-journal' };
  if (config.exchange.validateOnly) {
    if (flags.journal !== undefined) {
      throw new UsageError('--journal: a validate-only run places nothing, so it journals nothing (in memory only)', 'run');
    }
    return { kind: 'memory', why: 'validate-only' };
  }
  if (config.mode === 'paper') {
    if (flags.journal !== undefined) {
      throw new UsageError(
        '--journal: the embedded paper exchange is a new account every run, so its journal is temporary; ' +
          'to keep one, run `kraken-rx paper` and point `kraken-rx run --url` at it',
        'run',
      );
    }
    return { kind: 'temporary' };
  }
  return { kind: 'file', path: resolve(cwd, flags.journal ?? config.journal.path) };
}

/** An open journal of one run, with what to say about it and how to let it go. */
export interface RunJournal {
  readonly journal: Journal;
  /** One line for the start of the run: which journal, for which account. */
  readonly description: string;
  /** The file written, or `null` for memory. */
  readonly path: string | null;
  /** Closes the journal (and removes a temporary one). Safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Opens the planned journal for `account`.
 *
 * @param account The fingerprint of the API key in use (`accountFingerprint`), never the key.
 * @param tempRoot Where a temporary journal's directory is made (default the OS temp directory).
 * @throws JournalError `account-mismatch` for a file of another account, `schema` / `corrupt` for a file that is not a
 *   readable journal, `storage` for one that cannot be opened.
 */
export function openRunJournal(plan: JournalPlan, account: string, tempRoot: string = tmpdir()): RunJournal {
  switch (plan.kind) {
    case 'memory': {
      const journal = openMemoryJournal({ account });
      return {
        journal,
        path: null,
        description:
          plan.why === 'no-journal'
            ? 'journal: in memory (--no-journal): nothing of this run is kept after it'
            : 'journal: in memory (validate only: nothing is placed, so nothing is kept)',
        close: once(() => firstValueFrom(journal.close())),
      };
    }
    case 'temporary': {
      const dir = mkdtempSync(join(tempRoot, 'kraken-rx-journal-'));
      const path = join(dir, 'journal.db');
      const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
      let journal: Journal;
      try {
        journal = openSqliteJournal({ path, account });
        recordEmptyCounters(journal);
      } catch (error: unknown) {
        removeDir();
        throw error;
      }
      return {
        journal,
        path,
        description: `journal: temporary ${path} (the embedded paper exchange is a new account every run; removed at exit)`,
        close: once(async () => {
          try {
            await firstValueFrom(journal.close());
          } finally {
            removeDir();
          }
        }),
      };
    }
    case 'file': {
      const journal = openSqliteJournal({ path: plan.path, account });
      return {
        journal,
        path: plan.path,
        description: `journal: ${plan.path} (account ${account})`,
        close: once(() => firstValueFrom(journal.close())),
      };
    }
  }
}

/** `close` as the first call made it: later calls wait for the same outcome. */
function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | null = null;
  return () => {
    closing ??= close();
    return closing;
  };
}

/**
 * The embedded paper exchange was started by this process, so its rate counters are known to be empty, not
 * unknown: recorded as such, the run's rate model starts from them instead of from full counters (which is
 * right for a real account whose earlier use is not known, and would hold this run's first calls for seconds).
 * The SQLite journal writes synchronously on subscription; a failed write throws here.
 */
function recordEmptyCounters(journal: Journal): void {
  const failures: unknown[] = [];
  // Completes (or fails) before subscribe returns: nothing is left subscribed.
  journal.recordRateCounters({ at: 0, rest: 0, trading: [] }).subscribe({ error: (error: unknown) => failures.push(error) });
  if (failures.length > 0) throw failures[0];
}
