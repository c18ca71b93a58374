import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ParsedArgs, UsageError, parseArgs, usage } from './args';
import { ConfigError, defaultConfigPath } from '../config/config';
import { isJournalError } from '../model/journal';
import { demoCommand } from './demo';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes';
import { type CliIo, processIo } from './io';
import { paperCommand } from './paper-command';
import { publishCommand } from './publish-command';
import { printable } from './printable';
import { runCommand } from './run-command';
import { statusCommand } from './status-command';

export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes';

function version(): string {
  const manifest: unknown = JSON.parse(readFileSync(join(defaultConfigPath(), '..', 'package.json'), 'utf8'));
  const value = typeof manifest === 'object' && manifest !== null ? (manifest as Record<string, unknown>)['version'] : undefined;
  return typeof value === 'string' ? value : 'unknown';
}

function usageFailure(error: UsageError, io: CliIo): number {
  const hint = error.topic === undefined ? 'kraken-rx --help' : `kraken-rx ${error.topic} --help`;
  io.stderr.write(`kraken-rx: ${printable(error.message)}\n${error.hinted ? `See \`${hint}\`.\n` : ''}`);
  return EXIT_USAGE;
}

/**
 * A failure as printed: escaped, so a config key or a path holding a line break cannot forge a line; a
 * ConfigError with several issues keeps its one issue per line.
 */
function failureText(error: unknown): string {
  if (error instanceof ConfigError && error.issues.length > 1) {
    return [printable(error.message.split('\n')[0] ?? ''), ...error.issues.map((issue) => `  ${printable(`${issue.path}: ${issue.message}`)}`)].join('\n');
  }
  return printable(error instanceof Error ? error.message : String(error));
}

/**
 * A journal that cannot be used as it is (another account's, a newer schema, not a journal, damaged) is like a
 * wrong command line: exit 2, and the person picks another file. A store that fails (disk, permissions) is exit 1.
 */
const failureExitCode = (error: unknown): number =>
  isJournalError(error) && (error.kind === 'account-mismatch' || error.kind === 'schema' || error.kind === 'corrupt') ? EXIT_USAGE : EXIT_FAILURE;

/** One case per command; a new command adds its case (the `never` check below names a missing one). */
async function dispatch(args: ParsedArgs, io: CliIo): Promise<number> {
  switch (args.command) {
    case 'help':
      io.stdout.write(`${usage(args.topic)}\n`);
      return EXIT_OK;
    case 'version':
      io.stdout.write(`kraken-rx ${version()}\n`);
      return EXIT_OK;
    case 'paper':
      return paperCommand(args, io);
    case 'run':
      return runCommand(args, io);
    case 'status':
      return statusCommand(args, io);
    case 'demo':
      return demoCommand(args, io);
    case 'publish':
      return publishCommand(args, io);
    default:
      return unknownCommand(args);
  }
}

function unknownCommand(args: never): never {
  throw new Error(`no handler for command ${JSON.stringify(args)}`);
}

/**
 * The `kraken-rx` program. `bin/kraken-rx.js` calls it with `process.argv.slice(2)` and exits with the result.
 * Every failure becomes a message on stderr and an exit code; nothing here prints a secret (errors about
 * credentials name the variable, never its value).
 *
 * @param argv the arguments after the program name
 * @param io the process's streams, environment and signals (tests pass their own)
 * @returns the exit code
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) return usageFailure(e, io);
    throw e;
  }
  try {
    return await dispatch(args, io);
  } catch (e) {
    if (e instanceof UsageError) return usageFailure(e, io);
    // ConfigError and the credential checks already say which key or variable; journal errors name key
    // fingerprints only; never a secret's value.
    io.stderr.write(`kraken-rx: ${failureText(e)}\n`);
    return failureExitCode(e);
  }
}
