import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, mergeConfig, parseConfig } from '../../src/config/config';

const shipped = (): Record<string, unknown> =>
  JSON.parse(readFileSync(resolve(__dirname, '..', '..', 'config.json'), 'utf8')) as Record<string, unknown>;

const errorFor = (override: unknown): string => {
  try {
    parseConfig(mergeConfig(shipped(), override));
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('config.feed', () => {
  it('is optional: absent, nothing is filled in (the handler decides from whether it was given a feed)', () => {
    expect(parseConfig(shipped()).feed).toBeUndefined();
  });

  it('takes a mode and an audit interval', () => {
    const config = parseConfig(mergeConfig(shipped(), { feed: { mode: 'websocket', auditIntervalMs: 60_000 } }));
    expect(config.feed).toEqual({ mode: 'websocket', auditIntervalMs: 60_000 });
    expect(parseConfig(mergeConfig(shipped(), { feed: { mode: 'rest', auditIntervalMs: 1 } })).feed?.mode).toBe('rest');
  });

  it('names the field and the reason when it is wrong', () => {
    expect(errorFor({ feed: { mode: 'socket', auditIntervalMs: 60_000 } })).toBe('config.feed.mode: expected one of "websocket", "rest", got "socket"');
    expect(errorFor({ feed: { mode: 'rest', auditIntervalMs: 0 } })).toBe('config.feed.auditIntervalMs: expected a positive integer, got 0');
    expect(errorFor({ feed: { mode: 'rest' } })).toBe('config.feed.auditIntervalMs: missing');
    expect(errorFor({ feed: 'websocket' })).toBe('config.feed: expected an object, got "websocket"');
    expect(errorFor({ feed: { mode: 'rest', auditIntervalMs: 5, pace: 1 } })).toContain('config.feed.pace: unknown key');
  });

  it('still reports a missing required key', () => {
    const { paper: _paper, ...rest } = shipped();
    expect(() => parseConfig(rest)).toThrow('config.paper: missing');
  });
});
