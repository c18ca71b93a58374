import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type ExecutionConfig, type FeedMode, type LogLevelName, type ProtectionMode, type Tier } from '../model/config';

/**
 * Loading and validating `config.json`-shaped files.
 *
 * The repository's `config.json` holds every key with its default; a user's file only needs the keys it
 * changes. The two are merged section by section, then the result is checked strictly: an unknown key, a
 * wrong type or a value out of range is an error that names the key path, so a typo in a config file never
 * silently falls back to a default while money is at stake.
 */

/** One thing wrong with a configuration, at one key path (e.g. `config.retry.jitter`). */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** A configuration that cannot be used. Its message lists every issue, one per line. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], source?: string) {
    const where = source === undefined ? '' : ` (${source})`;
    const lines = issues.map((issue) => `${issue.path}: ${issue.message}`);
    super(issues.length === 1 ? `${lines[0] ?? ''}${where}` : `invalid configuration${where}:\n  ${lines.join('\n  ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Checks one value at one path; reports problems into `issues` and returns the typed value (or undefined). */
type Check<T> = (value: unknown, path: string, issues: ConfigIssue[]) => T | undefined;

const describe = (value: unknown): string => {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

interface IntegerRange {
  readonly min?: number;
  readonly max?: number;
}

const withArticle = (text: string): string => (/^[aeiou]/.test(text) ? `an ${text}` : `a ${text}`);

const expectedNumber = (what: 'integer' | 'number', { min, max }: IntegerRange): string => {
  if (min !== undefined && max !== undefined) return `${withArticle(what)} between ${min} and ${max}`;
  if (min === 0) return `a non-negative ${what}`;
  if (min === 1 && what === 'integer') return `a positive ${what}`;
  if (min !== undefined) return `${withArticle(what)} >= ${min}`;
  if (max !== undefined) return `${withArticle(what)} <= ${max}`;
  return withArticle(what);
};

const numberCheck =
  (integerOnly: boolean, range: IntegerRange): Check<number> =>
  (value, path, issues) => {
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (!integerOnly || Number.isSafeInteger(value)) &&
      (range.min === undefined || value >= range.min) &&
      (range.max === undefined || value <= range.max);
    if (!ok) {
      const expected = expectedNumber(integerOnly ? 'integer' : 'number', range);
      issues.push({ path, message: `expected ${expected}, got ${describe(value)}` });
      return undefined;
    }
    return value;
  };

/** Whole milliseconds, counts, ports. */
const integer = (range: IntegerRange = {}): Check<number> => numberCheck(true, range);
/** Ratios and multipliers. */
const number = (range: IntegerRange = {}): Check<number> => numberCheck(false, range);

const boolean: Check<boolean> = (value, path, issues) => {
  if (typeof value !== 'boolean') {
    issues.push({ path, message: `expected true or false, got ${describe(value)}` });
    return undefined;
  }
  return value;
};

const oneOf =
  <T extends string>(choices: readonly T[]): Check<T> =>
  (value, path, issues) => {
    const found = choices.find((choice) => choice === value);
    if (found === undefined) {
      issues.push({ path, message: `expected one of ${choices.map((c) => `"${c}"`).join(', ')}, got ${describe(value)}` });
    }
    return found;
  };

/**
 * What is wrong with an exchange URL, or `null`: http or https only, and no user name or password (they would
 * end up in logs and error messages). Shared by `exchange.url` and the `--url` flag.
 */
export function httpUrlProblem(value: unknown): string | null {
  const expected = `expected an http:// or https:// URL, got ${describe(value)}`;
  if (typeof value !== 'string') return expected;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return expected;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return expected;
  if (url.username !== '' || url.password !== '') return 'expected a URL without user name or password';
  return null;
}

const httpUrl: Check<string> = (value, path, issues) => {
  const problem = httpUrlProblem(value);
  if (problem !== null || typeof value !== 'string') {
    issues.push({ path, message: problem ?? 'expected a string' });
    return undefined;
  }
  return value.replace(/\/+$/, '');
};

/** A fraction above 0 and at most 1, or null for none. */
const priceBand: Check<number | null> = (value, path, issues) => {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1) {
    issues.push({ path, message: `expected a fraction above 0 and at most 1 (0.1 = 10 %), or null for no band, got ${describe(value)}` });
    return undefined;
  }
  return value;
};

/** A non-empty string without control characters (a file path). */
const filePath: Check<string> = (value, where, issues) => {
  if (typeof value !== 'string' || value.trim() === '' || /[\u0000-\u001f\u007f]/.test(value)) {
    issues.push({ path: where, message: `expected a non-empty file path, got ${describe(value)}` });
    return undefined;
  }
  return value;
};

/** A check whose key may be left out: `fallback` stands in for it. */
interface Defaulted<T> extends Check<T> {
  readonly fallback: T;
}

const withDefault = <T>(check: Check<T>, fallback: T): Defaulted<T> => Object.assign(((value, where, issues) => check(value, where, issues)) as Check<T>, { fallback });

const fallbackOf = (check: Check<unknown>): { readonly value: unknown } | null =>
  'fallback' in check ? { value: (check as Defaulted<unknown>).fallback } : null;

/** Checks whose key `section` lets be absent (the value is then left out). */
const optionalChecks = new WeakSet<Check<unknown>>();
const optional = <T>(check: Check<T>): Check<T | undefined> => {
  optionalChecks.add(check as Check<unknown>);
  return check;
};

type Shape<T> = { readonly [K in keyof T]-?: Check<T[K]> };

/** An object with exactly the keys of `shape`: every key required unless it has a default, no other key allowed. */
const section =
  <T>(shape: Shape<T>): Check<T> =>
  (value, path, issues) => {
    if (!isRecord(value)) {
      issues.push({ path, message: `expected an object, got ${describe(value)}` });
      return undefined;
    }
    const known = Object.keys(shape);
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        issues.push({ path: `${path}.${key}`, message: `unknown key (known keys: ${known.join(', ')})` });
      }
    }
    const result: Record<string, unknown> = {};
    let complete = true;
    for (const key of known) {
      const check = shape[key as keyof T] as Check<unknown>;
      if (!(key in value)) {
        const fallback = fallbackOf(check);
        if (fallback !== null) {
          result[key] = fallback.value;
          continue;
        }
        if (optionalChecks.has(check)) continue;
        issues.push({ path: `${path}.${key}`, message: 'missing' });
        complete = false;
        continue;
      }
      const parsed = check(value[key], `${path}.${key}`, issues);
      if (parsed === undefined) complete = false;
      else result[key] = parsed;
    }
    return complete ? (result as T) : undefined;
  };

const TIERS: readonly Tier[] = ['starter', 'intermediate', 'pro', 'unlimited'];
const LOG_LEVELS: readonly LogLevelName[] = ['trace', 'debug', 'info', 'warn', 'error', 'silent'];
const PROTECTION_MODES: readonly ProtectionMode[] = ['stop-resting', 'both-resting'];

/** Where `kraken-rx run` journals its orders when the config names no file: in the working directory. */
export const DEFAULT_JOURNAL_PATH = 'kraken-rx.db';

/** What only the command line reads: the handler itself takes an `ExecutionConfig` and a `Journal` object. */
export interface JournalConfig {
  /** The SQLite journal file, relative to the working directory unless absolute. */
  readonly path: string;
}

/** The configuration of `kraken-rx run` and `status`: the handler's, plus where its journal lives. */
export interface CliConfig extends ExecutionConfig {
  readonly journal: JournalConfig;
}

const executionConfig: Check<CliConfig> = section<CliConfig>({
  mode: oneOf(['paper', 'live'] as const),
  logLevel: oneOf(LOG_LEVELS),
  exchange: section<ExecutionConfig['exchange']>({
    url: httpUrl,
    tier: oneOf(TIERS),
    requestTimeoutMs: integer({ min: 1 }),
    validateOnly: boolean,
  }),
  entry: section<ExecutionConfig['entry']>({
    limitTimeoutMs: integer({ min: 1 }),
    // Kraken accepts a deadline between 2 and 60 seconds ahead.
    deadlineMs: integer({ min: 2000, max: 60000 }),
    maxConcurrentPlacements: integer({ min: 1 }),
    maxPriceDeviation: priceBand,
  }),
  protection: section<ExecutionConfig['protection']>({
    mode: oneOf(PROTECTION_MODES),
    takeProfitPollMs: integer({ min: 1 }),
  }),
  monitor: section<ExecutionConfig['monitor']>({
    minIntervalMs: integer({ min: 1 }),
    maxIntervalMs: integer({ min: 1 }),
  }),
  retry: section<ExecutionConfig['retry']>({
    maxAttempts: integer({ min: 1 }),
    initialDelayMs: integer({ min: 0 }),
    maxDelayMs: integer({ min: 0 }),
    multiplier: number({ min: 1 }),
    jitter: number({ min: 0, max: 1 }),
  }),
  lookup: section<ExecutionConfig['lookup']>({
    attempts: integer({ min: 1 }),
    intervalMs: integer({ min: 1 }),
  }),
  breaker: section<ExecutionConfig['breaker']>({
    failureThreshold: integer({ min: 1 }),
    cooldownMs: integer({ min: 0 }),
  }),
  // Optional: absent means `websocket` when the handler is given a feed, else `rest` (see ExecutionConfig.feed).
  feed: optional(
    section<NonNullable<ExecutionConfig['feed']>>({
      mode: oneOf<FeedMode>(['websocket', 'rest']),
      auditIntervalMs: integer({ min: 1 }),
    }),
  ),
  paper: section<ExecutionConfig['paper']>({
    port: integer({ min: 0, max: 65535 }),
    seed: integer(),
    tier: oneOf(TIERS),
  }),
  // Optional, so a complete ExecutionConfig written before the journal existed still parses.
  journal: withDefault(section<JournalConfig>({ path: filePath }), { path: DEFAULT_JOURNAL_PATH }),
});

/** Rules that tie two keys together; checked only once each key is valid on its own. */
function crossChecks(config: CliConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (config.monitor.maxIntervalMs < config.monitor.minIntervalMs) {
    issues.push({
      path: 'config.monitor.maxIntervalMs',
      message: `expected at least monitor.minIntervalMs (${config.monitor.minIntervalMs}), got ${config.monitor.maxIntervalMs}`,
    });
  }
  if (config.retry.maxDelayMs < config.retry.initialDelayMs) {
    issues.push({
      path: 'config.retry.maxDelayMs',
      message: `expected at least retry.initialDelayMs (${config.retry.initialDelayMs}), got ${config.retry.maxDelayMs}`,
    });
  }
  return issues;
}

/**
 * Checks a complete configuration (every key present) and returns it typed.
 * @throws ConfigError listing every unknown key, missing key, wrong type and bad value by its path.
 */
export function parseConfig(json: unknown, source?: string): CliConfig {
  const issues: ConfigIssue[] = [];
  const config = executionConfig(json, 'config', issues);
  if (config === undefined || issues.length > 0) throw new ConfigError(issues, source);
  const related = crossChecks(config);
  if (related.length > 0) throw new ConfigError(related, source);
  return config;
}

/**
 * Lays `override` over `base` section by section: a section object in `override` replaces only the keys it
 * names. Anything that is not an object is taken as given, so `parseConfig` can then name it as wrong.
 */
export function mergeConfig(base: unknown, override: unknown): unknown {
  if (!isRecord(base) || !isRecord(override)) return override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    merged[key] = isRecord(value) && isRecord(base[key]) ? mergeConfig(base[key], value) : value;
  }
  return merged;
}

const PACKAGE_NAME = 'kraken-rx-execution';

/**
 * Where the shipped `config.json` is: at the package root, found by walking up from this file. Compiled, this
 * file is `dist/config/config.js`; under ts-jest it is `src/config/config.ts`; both are two levels below the root,
 * but walking up to our own `package.json` also survives a different output layout.
 */
export function defaultConfigPath(from: string = __dirname): string {
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, 'config.json');
    if (existsSync(candidate) && isOwnPackage(join(dir, 'package.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`cannot find the default config.json of ${PACKAGE_NAME} above ${from}`);
}

function isOwnPackage(packageJsonPath: string): boolean {
  try {
    const manifest: unknown = JSON.parse(readFileSync(packageJsonPath, 'utf8'));
    return isRecord(manifest) && manifest['name'] === PACKAGE_NAME;
  } catch {
    return false;
  }
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = isRecord(e) && typeof e['code'] === 'string' ? ` (${e['code']})` : '';
    throw new Error(`cannot read config file ${path}${code}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`config file ${path} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The shipped defaults, checked. */
export function defaultConfig(): CliConfig {
  const path = defaultConfigPath();
  return parseConfig(readJson(path), path);
}

/**
 * The configuration to run with: the shipped defaults, with the user's file (when given) merged over them
 * section by section, then `overrides` (already-structured settings such as the demo's or command-line flags).
 * @throws ConfigError naming every bad key, or an Error when a file cannot be read or parsed.
 */
export function loadConfig(path?: string, overrides?: unknown): CliConfig {
  const defaultsPath = defaultConfigPath();
  let merged = readJson(defaultsPath);
  let source = defaultsPath;
  if (path !== undefined) {
    const user = readJson(path);
    if (!isRecord(user)) throw new ConfigError([{ path: 'config', message: `expected an object, got ${describe(user)}` }], path);
    merged = mergeConfig(merged, user);
    source = path;
  }
  if (overrides !== undefined) merged = mergeConfig(merged, overrides);
  return parseConfig(merged, source);
}
