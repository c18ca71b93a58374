import { parseArgs, type RunArgs } from '../../src/cli/args';
import { loadConfig } from '../../src/config/config';
import { configOverrides } from '../../src/cli/run-command';

const runArgs = (...flags: string[]): RunArgs => parseArgs(['run', ...flags]) as RunArgs;

describe('configOverrides', () => {
  it('changes nothing without flags', () => {
    expect(configOverrides(runArgs())).toEqual({});
    expect(loadConfig(undefined, configOverrides(runArgs()))).toEqual(loadConfig());
  });

  it('makes --url a live run against that URL, keeping the rest of the exchange section', () => {
    const config = loadConfig(undefined, configOverrides(runArgs('--url', 'http://127.0.0.1:8700/')));
    expect(config.mode).toBe('live');
    expect(config.exchange.url).toBe('http://127.0.0.1:8700');
    expect(config.exchange.tier).toBe('starter');
  });

  it('maps --paper, --validate-only and --log-level onto their keys', () => {
    const config = loadConfig(undefined, configOverrides(runArgs('--paper', '--validate-only', '--log-level', 'error')));
    expect(config.mode).toBe('paper');
    expect(config.exchange.validateOnly).toBe(true);
    expect(config.logLevel).toBe('error');
  });

  it('checks a --url like a config value, naming the flag rather than config.exchange.url', () => {
    expect(() => runArgs('--url', 'ftp://example.com')).toThrow('--url expected an http:// or https:// URL, got "ftp://example.com"');
  });
});
