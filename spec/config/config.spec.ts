import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ConfigError,
  defaultConfig,
  defaultConfigPath,
  loadConfig,
  mergeConfig,
  parseConfig,
} from '../../src/config/config';

const repoConfigPath = resolve(__dirname, '..', '..', 'config.json');
const shipped = (): Record<string, unknown> => JSON.parse(readFileSync(repoConfigPath, 'utf8')) as Record<string, unknown>;

const tempDir = mkdtempSync(join(tmpdir(), 'kraken-rx-config-'));
let fileCount = 0;
const writeConfig = (content: unknown): string => {
  fileCount += 1;
  const path = join(tempDir, `config-${fileCount}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};

/** The message parseConfig throws for the shipped config with `override` merged in. */
const errorFor = (override: unknown): string => {
  try {
    parseConfig(mergeConfig(shipped(), override));
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('parseConfig', () => {
  it('accepts the shipped config.json as it is', () => {
    const config = parseConfig(shipped());
    expect(config.mode).toBe('paper');
    expect(config.retry.jitter).toBe(0.2);
    expect(config.entry.deadlineMs).toBe(10000);
    expect(config.paper.tier).toBe('starter');
  });

  it('ships the fat-finger band entry.maxPriceDeviation at 10 %, accepts null for none, and names the key when it is bad', () => {
    expect(parseConfig(shipped()).entry.maxPriceDeviation).toBe(0.1);
    expect(parseConfig(mergeConfig(shipped(), { entry: { maxPriceDeviation: null } })).entry.maxPriceDeviation).toBeNull();
    const expected = 'expected a fraction above 0 and at most 1 (0.1 = 10 %), or null for no band';
    expect(errorFor({ entry: { maxPriceDeviation: 10 } })).toBe(`config.entry.maxPriceDeviation: ${expected}, got 10`);
    expect(errorFor({ entry: { maxPriceDeviation: 0 } })).toBe(`config.entry.maxPriceDeviation: ${expected}, got 0`);
    expect(errorFor({ entry: { maxPriceDeviation: '0.1' } })).toBe(`config.entry.maxPriceDeviation: ${expected}, got "0.1"`);
  });

  it('names the key path, what was expected and what came, for a jitter above 1', () => {
    expect(errorFor({ retry: { jitter: 1.5 } })).toBe('config.retry.jitter: expected a number between 0 and 1, got 1.5');
  });

  it.each([
    [{ monitor: { minIntervalMs: -5 } }, 'config.monitor.minIntervalMs: expected a positive integer, got -5'],
    [{ retry: { initialDelayMs: -1 } }, 'config.retry.initialDelayMs: expected a non-negative integer, got -1'],
    [{ retry: { jitter: -0.1 } }, 'config.retry.jitter: expected a number between 0 and 1, got -0.1'],
    [{ retry: { multiplier: 0.5 } }, 'config.retry.multiplier: expected a number >= 1, got 0.5'],
    [{ entry: { deadlineMs: 1999 } }, 'config.entry.deadlineMs: expected an integer between 2000 and 60000, got 1999'],
    [{ entry: { deadlineMs: 60001 } }, 'config.entry.deadlineMs: expected an integer between 2000 and 60000, got 60001'],
    [{ entry: { limitTimeoutMs: 1.5 } }, 'config.entry.limitTimeoutMs: expected a positive integer, got 1.5'],
    [{ entry: { maxConcurrentPlacements: '4' } }, 'config.entry.maxConcurrentPlacements: expected a positive integer, got "4"'],
    [{ exchange: { tier: 'gold' } }, 'config.exchange.tier: expected one of "starter", "intermediate", "pro", "unlimited", got "gold"'],
    [{ mode: 'demo' }, 'config.mode: expected one of "paper", "live", got "demo"'],
    [{ logLevel: 'verbose' }, 'config.logLevel: expected one of "trace", "debug", "info", "warn", "error", "silent", got "verbose"'],
    [{ protection: { mode: 'oco' } }, 'config.protection.mode: expected one of "stop-resting", "both-resting", got "oco"'],
    [{ exchange: { url: 'ftp://api.kraken.com' } }, 'config.exchange.url: expected an http:// or https:// URL, got "ftp://api.kraken.com"'],
    [{ exchange: { url: 'not a url' } }, 'config.exchange.url: expected an http:// or https:// URL, got "not a url"'],
    [{ exchange: { validateOnly: 'yes' } }, 'config.exchange.validateOnly: expected true or false, got "yes"'],
    [{ paper: { port: 70000 } }, 'config.paper.port: expected an integer between 0 and 65535, got 70000'],
    [{ paper: { seed: null } }, 'config.paper.seed: expected an integer, got null'],
    [{ retry: 5 }, 'config.retry: expected an object, got 5'],
  ])('rejects a bad value: %j', (override, message) => {
    expect(errorFor(override)).toBe(message);
  });

  it('rejects an unknown key and lists the known ones', () => {
    expect(errorFor({ retry: { jiter: 0.1 } })).toBe(
      'config.retry.jiter: unknown key (known keys: maxAttempts, initialDelayMs, maxDelayMs, multiplier, jitter)',
    );
    expect(errorFor({ colour: 'blue' })).toMatch(/^config\.colour: unknown key/);
  });

  it('rejects a missing key in a complete config', () => {
    const config = shipped();
    delete config['logLevel'];
    expect(() => parseConfig(config)).toThrow('config.logLevel: missing');
  });

  it('lists every issue at once, one per line', () => {
    const message = errorFor({ retry: { jitter: 2, maxAttempts: 0 }, mode: 'x' });
    expect(message.split('\n')).toEqual([
      'invalid configuration:',
      '  config.mode: expected one of "paper", "live", got "x"',
      '  config.retry.maxAttempts: expected a positive integer, got 0',
      '  config.retry.jitter: expected a number between 0 and 1, got 2',
    ]);
  });

  it('checks keys that depend on each other', () => {
    expect(errorFor({ monitor: { minIntervalMs: 5000, maxIntervalMs: 1000 } })).toBe(
      'config.monitor.maxIntervalMs: expected at least monitor.minIntervalMs (5000), got 1000',
    );
    expect(errorFor({ retry: { initialDelayMs: 500, maxDelayMs: 100 } })).toBe(
      'config.retry.maxDelayMs: expected at least retry.initialDelayMs (500), got 100',
    );
  });

  it('refuses a URL carrying credentials, without repeating them', () => {
    const message = errorFor({ exchange: { url: 'https://user:hunter2@api.kraken.com' } });
    expect(message).toBe('config.exchange.url: expected a URL without user name or password');
    expect(message).not.toContain('hunter2');
  });

  it('rejects a config that is not an object', () => {
    expect(() => parseConfig([])).toThrow('config: expected an object, got an array');
  });
});

describe('mergeConfig', () => {
  it('merges section by section, keeping the keys a section does not name', () => {
    const merged = mergeConfig({ a: { x: 1, y: 2 }, b: 3 }, { a: { y: 5 } });
    expect(merged).toEqual({ a: { x: 1, y: 5 }, b: 3 });
  });

  it('takes a non-object override as given so the check can name it', () => {
    expect(mergeConfig({ a: { x: 1 } }, { a: 7 })).toEqual({ a: 7 });
  });
});

describe('loadConfig', () => {
  it('finds the shipped config.json at the package root', () => {
    expect(defaultConfigPath()).toBe(repoConfigPath);
    expect(defaultConfig()).toEqual(parseConfig(shipped()));
  });

  it('finds the package root also from a dist/cli folder', () => {
    expect(defaultConfigPath(resolve(__dirname, '..', '..', 'dist', 'cli'))).toBe(repoConfigPath);
  });

  it('returns the defaults when no file is given', () => {
    expect(loadConfig()).toEqual(parseConfig(shipped()));
  });

  it('merges a partial user file over the defaults, deep by section', () => {
    const path = writeConfig({ mode: 'live', retry: { maxAttempts: 2 }, exchange: { tier: 'pro' } });
    const config = loadConfig(path);
    expect(config.mode).toBe('live');
    expect(config.retry).toEqual({ ...parseConfig(shipped()).retry, maxAttempts: 2 });
    expect(config.exchange.tier).toBe('pro');
    expect(config.exchange.url).toBe('https://api.kraken.com');
  });

  it('applies structured overrides after the file', () => {
    const path = writeConfig({ logLevel: 'debug' });
    const config = loadConfig(path, { logLevel: 'warn', monitor: { minIntervalMs: 100 } });
    expect(config.logLevel).toBe('warn');
    expect(config.monitor.minIntervalMs).toBe(100);
  });

  it('names the file and the key in the error for a bad user file', () => {
    const path = writeConfig({ retry: { jitter: 1.5 } });
    expect(() => loadConfig(path)).toThrow(`config.retry.jitter: expected a number between 0 and 1, got 1.5 (${path})`);
  });

  it('says when a file is missing or not JSON', () => {
    expect(() => loadConfig(join(tempDir, 'absent.json'))).toThrow(/cannot read config file .*absent\.json \(ENOENT\)/);
    const path = writeConfig('{ "mode": ');
    expect(() => loadConfig(path)).toThrow(/is not valid JSON/);
  });

  it('rejects a user file that is not an object', () => {
    const path = writeConfig('[1, 2]');
    expect(() => loadConfig(path)).toThrow(ConfigError);
  });
});
