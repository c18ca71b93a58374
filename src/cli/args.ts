import { httpUrlProblem } from '../config/config';
import { type LogLevelName, type Tier } from '../model/config';

/**
 * The `kraken-rx` command line: `paper`, `run`, `status`, `demo`, each with `--help`. Parsing is strict — an unknown flag,
 * a missing value or a bad value is a `UsageError` (exit code 2) naming the flag, because a mistyped
 * `--validate-only` must not quietly place real orders.
 */

export type CommandName = 'paper' | 'run' | 'status' | 'demo' | 'publish';

export interface PaperArgs {
  readonly command: 'paper';
  readonly port?: number;
  readonly apiKey?: string;
  readonly apiSecret?: string;
  readonly tier?: Tier;
  readonly seed?: number;
}

export interface RunArgs {
  readonly command: 'run';
  readonly config?: string;
  /** A file of JSON lines, or `-` for stdin (the default). */
  readonly signals: string;
  readonly paper: boolean;
  readonly json: boolean;
  readonly logLevel?: LogLevelName;
  readonly url?: string;
  readonly validateOnly: boolean;
  /** `--journal FILE`: the journal file, over config `journal.path`. */
  readonly journal?: string;
  /** `--no-journal`: an in-memory journal, nothing kept after the run. */
  readonly noJournal: boolean;
  /** `--bus URL`: read the input from the account's Redis stream and write every report to its reports stream. */
  readonly bus?: string;
  /** `--account NAME`: whose streams on the bus (`krx:NAME:in`, `krx:NAME:reports`); given with `--bus` only. */
  readonly account?: string;
  /** `--cluster URL`: the journal and the account's lease in this PostgreSQL (one handler per API key; src/cli/cluster-run.ts). */
  readonly cluster?: string;
  /** `--lease-ttl MS`: with `--cluster`, how long the lease lasts unrenewed (how soon a standby takes over a dead leader). */
  readonly leaseTtlMs?: number;
}

export interface StatusArgs {
  readonly command: 'status';
  readonly config?: string;
  /** `--journal FILE`: the journal file, over config `journal.path`. */
  readonly journal?: string;
  readonly json: boolean;
  /** `--url`: the exchange to check the journal against (with credentials from the environment). */
  readonly url?: string;
}

export interface DemoArgs {
  readonly command: 'demo';
  readonly json: boolean;
  readonly logLevel?: LogLevelName;
}

/** `kraken-rx publish`: input lines onto an account's stream on the bus (src/cli/publish-command.ts). */
export interface PublishArgs {
  readonly command: 'publish';
  readonly bus: string;
  readonly account: string;
  /** A file of JSON lines, or `-` for stdin (the default). */
  readonly input: string;
}

export type ParsedArgs =
  | PublishArgs
  | PaperArgs
  | RunArgs
  | StatusArgs
  | DemoArgs
  | { readonly command: 'help'; readonly topic?: CommandName }
  | { readonly command: 'version' };

/** A command line that cannot be run; `main` prints it with the usage hint and exits 2. */
export class UsageError extends Error {
  /**
   * @param message what is wrong, naming the flag
   * @param topic the command whose `--help` to point at
   * @param hinted whether to point at `--help` at all (not for a file that is missing: the help would not help)
   */
  constructor(
    message: string,
    readonly topic?: CommandName,
    readonly hinted = true,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

const TIERS: readonly Tier[] = ['starter', 'intermediate', 'pro', 'unlimited'];
const LOG_LEVELS: readonly LogLevelName[] = ['trace', 'debug', 'info', 'warn', 'error', 'silent'];

type FlagKind =
  | { readonly type: 'boolean' }
  | { readonly type: 'string'; readonly placeholder: string }
  | { readonly type: 'url'; readonly placeholder: string }
  | { readonly type: 'integer'; readonly placeholder: string; readonly min: number; readonly max: number }
  | { readonly type: 'choice'; readonly placeholder: string; readonly choices: readonly string[] };

interface FlagSpec {
  readonly name: string;
  /** The property of the parsed command it sets. */
  readonly key: string;
  readonly kind: FlagKind;
  readonly help: string;
}

const flag = (name: string, key: string, kind: FlagKind, help: string): FlagSpec => ({ name, key, kind, help });
const bool: FlagKind = { type: 'boolean' };
const str = (placeholder: string): FlagKind => ({ type: 'string', placeholder });
const int = (placeholder: string, min: number, max: number): FlagKind => ({ type: 'integer', placeholder, min, max });
const choice = (placeholder: string, choices: readonly string[]): FlagKind => ({ type: 'choice', placeholder, choices });

const LOG_LEVEL_FLAG = flag('--log-level', 'logLevel', choice('L', LOG_LEVELS), 'log level on stderr, over config logLevel');
const CONFIG_FLAG = flag('--config', 'config', str('FILE'), 'a config file; its keys are merged over the defaults in config.json');

interface CommandSpec {
  readonly summary: string;
  readonly flags: readonly FlagSpec[];
  readonly details: string;
}

const COMMANDS: Readonly<Record<CommandName, CommandSpec>> = {
  paper: {
    summary: 'start the paper exchange alone (a Kraken-compatible exchange on 127.0.0.1)',
    flags: [
      flag('--port', 'port', int('N', 0, 65535), 'port to listen on (default: config paper.port; 0 picks a free port)'),
      flag('--api-key', 'apiKey', str('K'), 'API key to accept (default: a fresh random key)'),
      flag('--api-secret', 'apiSecret', str('S'), 'API secret to accept: base64 of 64 bytes (default: a fresh random secret)'),
      flag('--tier', 'tier', choice('T', TIERS), 'rate-limit tier to enforce (default: config paper.tier)'),
      flag('--seed', 'seed', int('N', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), 'seed of the price process (default: config paper.seed)'),
    ],
    details: [
      'The first line on stdout is one JSON object: {"url":...,"apiKey":...,"apiSecret":...}.',
      'Point `kraken-rx run --url URL` at it with KRAKEN_API_KEY / KRAKEN_API_SECRET set from that line.',
      'Prices move on their own (a seeded random walk). Runs until Ctrl-C (SIGINT) or SIGTERM.',
    ].join('\n'),
  },
  run: {
    summary: 'run the execution handler on signals read as JSON lines',
    flags: [
      CONFIG_FLAG,
      flag('--signals', 'signals', str('FILE|-'), 'where the JSON lines come from (default: - = stdin)'),
      flag('--paper', 'paper', bool, 'start the embedded paper exchange in-process (same as config mode "paper")'),
      flag('--json', 'json', bool, 'print reports and the summary as JSON lines instead of text'),
      LOG_LEVEL_FLAG,
      flag('--url', 'url', { type: 'url', placeholder: 'URL' }, 'exchange URL, e.g. a `kraken-rx paper` in another terminal (credentials from env)'),
      flag('--validate-only', 'validateOnly', bool, "ask the exchange to validate each order and place nothing (Kraken's validate)"),
      flag('--journal', 'journal', str('FILE'), 'the journal file (default: config journal.path, kraken-rx.db in the working directory)'),
      flag('--no-journal', 'noJournal', bool, 'journal in memory only: nothing of this run survives it (throwaway runs)'),
      flag('--bus', 'bus', str('URL'), 'read the input from Redis, e.g. redis://127.0.0.1:6379, instead of --signals (needs --account)'),
      flag('--account', 'account', str('NAME'), 'with --bus: the account whose streams to use, krx:NAME:in and krx:NAME:reports'),
      flag('--cluster', 'cluster', str('URL'), 'journal and lease in PostgreSQL (postgres://…): one run per API key leads, others stand by'),
      flag('--lease-ttl', 'leaseTtlMs', int('MS', 1_000, 600_000), 'with --cluster: how long the lease lasts unrenewed (default 15000)'),
    ],
    details: [
      'Input lines (one JSON object per line; blank lines and lines starting with # are ignored):',
      '  {"signalId":"s1","pair":"BTC/USD","side":"buy","orderType":"limit","quantity":"0.01","limitPrice":"30000","stopLoss":"29000","takeProfit":"32000","timeoutMs":60000}',
      '  {"type":"close","commandId":"c1","pair":"BTC/USD","quantity":"0.01"}   (quantity optional: the whole position)',
      '  {"type":"halt","halted":true}                                        (and false to resume)',
      'Live mode (config mode "live", or --url) reads KRAKEN_API_KEY and KRAKEN_API_SECRET from the environment.',
      'At the end of the input it waits until every order is final (protective stops may stay resting), prints a',
      'summary and exits 0. Ctrl-C / SIGTERM stops gracefully the same way.',
      'Every signal and order is journaled (SQLite) before it is sent. With the embedded paper exchange (a new account',
      'every run) the journal is a temporary file, removed at exit; a validate-only run journals in memory. A journal',
      'of another account (API key) stops the start with exit code 2. `kraken-rx status` shows what a journal keeps.',
      'With --bus the same lines come from the stream krx:NAME:in (a consumer group; `kraken-rx publish` writes them)',
      'and every report also goes to krx:NAME:reports. An entry is acknowledged only once what it asks is journaled;',
      'one delivered again whose id the journal holds is acknowledged without a report. A stream has no end: the run',
      'goes on until Ctrl-C / SIGTERM, then stops gracefully, acknowledges what it journaled and prints the summary.',
    ].join('\n'),
  },
  status: {
    summary: 'print what a journal holds: positions, working entries, resting protection, take-profit watches',
    flags: [
      CONFIG_FLAG,
      flag('--journal', 'journal', str('FILE'), 'the journal file (default: config journal.path, kraken-rx.db in the working directory)'),
      flag('--json', 'json', bool, 'print one JSON object instead of text'),
      flag('--url', 'url', { type: 'url', placeholder: 'URL' }, 'the exchange to check against (default: config exchange.url; credentials from env)'),
    ],
    details: [
      'Reads the journal as of its last write; a run may be writing it meanwhile. With KRAKEN_API_KEY and',
      'KRAKEN_API_SECRET in the environment it also asks the exchange for its open orders once (OpenOrders) and shows',
      'which journaled open orders are no longer open there, and which open orders of the handler the journal does',
      'not know; without them it reads the journal only, and says so.',
      'Exit code 1 when there is no journal at that path, 2 when the file is not a readable journal or the API key is',
      "another account's.",
    ].join('\n'),
  },
  demo: {
    summary: 'run a scripted scenario against the embedded paper exchange (what `npm start` runs)',
    flags: [flag('--json', 'json', bool, 'print reports and the summary as JSON lines instead of text'), LOG_LEVEL_FLAG],
    details:
      'Shows every path: market entry with a stop, partial fills, a timeout after a partial fill, a stop-loss hit,\n' +
      'a take-profit, HALT, an invalid signal and a close-position command. Finishes in well under a minute.',
  },
  publish: {
    summary: "publish input lines (signals, close, HALT) onto an account's input stream on Redis",
    flags: [
      flag('--bus', 'bus', str('URL'), 'the Redis to publish to, e.g. redis://127.0.0.1:6379 (required)'),
      flag('--account', 'account', str('NAME'), 'the account whose stream krx:NAME:in gets the lines, as its handler names it (required)'),
      flag('--input', 'input', str('FILE|-'), 'where the JSON lines come from (default: - = stdin)'),
    ],
    details:
      'The same lines as `kraken-rx run` reads; each is checked first, and a bad one is not published but named on\n' +
      'stderr with its line number and reason (a halt line that cannot be read is published all the same: HALT\n' +
      'fails closed). Prints how many were published; exit 1 if any line was bad.',
  },
};

const isCommandName = (word: string): word is CommandName => Object.prototype.hasOwnProperty.call(COMMANDS, word);

const flagUsage = (spec: FlagSpec): string => (spec.kind.type === 'boolean' ? spec.name : `${spec.name} ${spec.kind.placeholder}`);

/** The help text of one command, or of the whole program. */
export function usage(topic?: CommandName): string {
  if (topic === undefined) {
    const commandNames = Object.keys(COMMANDS) as CommandName[];
    const nameWidth = Math.max(...commandNames.map((name) => name.length));
    return [
      'Usage: kraken-rx <command> [flags]',
      '',
      'Commands:',
      ...commandNames.map((name) => `  ${name.padEnd(nameWidth)} ${COMMANDS[name].summary}`),
      '',
      'Run `kraken-rx <command> --help` for the flags of a command.',
    ].join('\n');
  }
  const spec = COMMANDS[topic];
  const width = Math.max(...spec.flags.map((f) => flagUsage(f).length), '--help'.length);
  return [
    `Usage: kraken-rx ${topic} ${spec.flags.map((f) => `[${flagUsage(f)}]`).join(' ')}`,
    '',
    spec.summary.charAt(0).toUpperCase() + spec.summary.slice(1) + '.',
    '',
    'Flags:',
    ...spec.flags.map((f) => {
      const choices = f.kind.type === 'choice' ? `: ${f.kind.choices.join('|')}` : '';
      return `  ${flagUsage(f).padEnd(width)}  ${f.help}${choices}`;
    }),
    `  ${'--help'.padEnd(width)}  show this help`,
    '',
    spec.details,
  ].join('\n');
}

function parseValue(spec: FlagSpec, raw: string, topic: CommandName): string | number {
  const kind = spec.kind;
  switch (kind.type) {
    case 'boolean':
      throw new UsageError(`${spec.name} takes no value`, topic);
    case 'string':
      if (raw === '') throw new UsageError(`${spec.name} needs a non-empty ${kind.placeholder}`, topic);
      return raw;
    case 'url': {
      // Checked here, not as config.exchange.url: the user typed a flag, and the message must name it.
      const problem = httpUrlProblem(raw);
      // A URL with a password is not repeated: that would print the password.
      if (problem !== null) throw new UsageError(`${spec.name} ${problem.replace(/, got .*$/, '')}${problem.includes('password') ? '' : `, got ${JSON.stringify(raw)}`}`, topic);
      return raw;
    }
    case 'integer': {
      const value = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(value) || value < kind.min || value > kind.max) {
        const range = kind.max === Number.MAX_SAFE_INTEGER ? 'an integer' : `an integer between ${kind.min} and ${kind.max}`;
        throw new UsageError(`${spec.name} expects ${range}, got ${JSON.stringify(raw)}`, topic);
      }
      return value;
    }
    case 'choice':
      if (!kind.choices.includes(raw)) {
        throw new UsageError(`${spec.name} expects one of ${kind.choices.join(', ')}, got ${JSON.stringify(raw)}`, topic);
      }
      return raw;
  }
}

/** Flag values of one command line, by property name. */
type FlagValues = Record<string, string | number | boolean>;

function parseFlags(topic: CommandName, words: readonly string[]): FlagValues | 'help' {
  const specs = COMMANDS[topic].flags;
  const values: FlagValues = {};
  for (let index = 0; index < words.length; index += 1) {
    const word = words[index] ?? '';
    if (word === '--help' || word === '-h') return 'help';
    if (!word.startsWith('-')) throw new UsageError(`unexpected argument ${JSON.stringify(word)}`, topic);
    const equals = word.indexOf('=');
    const name = equals >= 0 ? word.slice(0, equals) : word;
    const spec = specs.find((candidate) => candidate.name === name);
    if (spec === undefined) {
      throw new UsageError(`unknown flag ${name} for \`kraken-rx ${topic}\` (known: ${specs.map((s) => s.name).join(', ')}, --help)`, topic);
    }
    if (spec.key in values) throw new UsageError(`${spec.name} given twice`, topic);
    if (spec.kind.type === 'boolean') {
      if (equals >= 0) throw new UsageError(`${spec.name} takes no value`, topic);
      values[spec.key] = true;
      continue;
    }
    let raw: string;
    if (equals >= 0) {
      raw = word.slice(equals + 1);
    } else {
      const next = words[index + 1];
      // `-` alone is a value (stdin); `--x` is the next flag, so the value is missing.
      if (next === undefined || (next.startsWith('-') && next !== '-' && !/^-\d/.test(next))) {
        throw new UsageError(`${spec.name} needs a value (${spec.kind.placeholder})`, topic);
      }
      raw = next;
      index += 1;
    }
    values[spec.key] = parseValue(spec, raw, topic);
  }
  return values;
}

const text = (values: FlagValues, key: string): string | undefined => {
  const value = values[key];
  return typeof value === 'string' ? value : undefined;
};
const whole = (values: FlagValues, key: string): number | undefined => {
  const value = values[key];
  return typeof value === 'number' ? value : undefined;
};
const on = (values: FlagValues, key: string): boolean => values[key] === true;
const tierOf = (values: FlagValues): Tier | undefined => TIERS.find((tier) => tier === values['tier']);
const logLevelOf = (values: FlagValues): LogLevelName | undefined => LOG_LEVELS.find((level) => level === values['logLevel']);

/** `--cluster`: a PostgreSQL URL, and no other journal flag beside it (the journal is the cluster's). */
const clusterUrl = (values: FlagValues): string | undefined => {
  const url = text(values, 'cluster');
  if (url === undefined) {
    if (values['leaseTtlMs'] !== undefined) throw new UsageError('--lease-ttl is the lease of --cluster: give --cluster too', 'run');
    return undefined;
  }
  if (!/^postgres(ql)?:\/\/\S+$/.test(url)) throw new UsageError('--cluster expects a postgres:// or postgresql:// URL', 'run');
  for (const [key, name] of [['journal', '--journal'], ['noJournal', '--no-journal'], ['paper', '--paper']] as const) {
    if (values[key] !== undefined) throw new UsageError(`--cluster and ${name} exclude each other: the journal is the cluster's, in PostgreSQL`, 'run');
  }
  return url;
};

/** Only the properties that were given, so `exactOptionalPropertyTypes` holds and defaults stay with the config. */
const given = <T extends object>(fields: T): T =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as T;

/**
 * Parses `process.argv.slice(2)`.
 * @throws UsageError for an unknown command or flag, a missing value or a bad value
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given');
  if (first === '--help' || first === '-h') return { command: 'help' };
  if (first === '--version' || first === '-V') return { command: 'version' };
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) return { command: 'help' };
    if (!isCommandName(topic)) throw new UsageError(`unknown command ${JSON.stringify(topic)}`);
    return { command: 'help', topic };
  }
  if (!isCommandName(first)) throw new UsageError(`unknown command ${JSON.stringify(first)}`);
  const values = parseFlags(first, rest);
  if (values === 'help') return { command: 'help', topic: first };
  switch (first) {
    case 'paper':
      return given<PaperArgs>({
        command: 'paper',
        port: whole(values, 'port'),
        apiKey: text(values, 'apiKey'),
        apiSecret: text(values, 'apiSecret'),
        tier: tierOf(values),
        seed: whole(values, 'seed'),
      } as PaperArgs);
    case 'run':
      if (on(values, 'paper') && text(values, 'url') !== undefined) {
        throw new UsageError('--paper and --url exclude each other: --paper starts its own exchange', 'run');
      }
      if (on(values, 'noJournal') && text(values, 'journal') !== undefined) {
        throw new UsageError('--journal and --no-journal exclude each other', 'run');
      }
      if (text(values, 'bus') !== undefined && text(values, 'signals') !== undefined) {
        throw new UsageError('--bus and --signals exclude each other: with --bus the input comes from the stream', 'run');
      }
      if ((text(values, 'bus') === undefined) !== (text(values, 'account') === undefined)) {
        throw new UsageError(text(values, 'bus') === undefined ? '--account is for --bus: it names the streams on the bus' : '--bus needs --account (whose streams)', 'run');
      }
      return given<RunArgs>({
        command: 'run',
        config: text(values, 'config'),
        signals: text(values, 'signals') ?? '-',
        paper: on(values, 'paper'),
        json: on(values, 'json'),
        logLevel: logLevelOf(values),
        url: text(values, 'url'),
        validateOnly: on(values, 'validateOnly'),
        journal: text(values, 'journal'),
        noJournal: on(values, 'noJournal'),
        bus: text(values, 'bus'),
        account: text(values, 'account'),
        cluster: clusterUrl(values),
        leaseTtlMs: whole(values, 'leaseTtlMs'),
      } as RunArgs);
    case 'status':
      return given<StatusArgs>({
        command: 'status',
        config: text(values, 'config'),
        journal: text(values, 'journal'),
        json: on(values, 'json'),
        url: text(values, 'url'),
      } as StatusArgs);
    case 'publish': {
      const [bus, account] = [text(values, 'bus'), text(values, 'account')];
      if (bus === undefined || account === undefined) throw new UsageError(`${bus === undefined ? '--bus' : '--account'} is required`, 'publish');
      return { command: 'publish', bus, account, input: text(values, 'input') ?? '-' };
    }
    case 'demo':
      return given<DemoArgs>({ command: 'demo', json: on(values, 'json'), logLevel: logLevelOf(values) } as DemoArgs);
  }
}
