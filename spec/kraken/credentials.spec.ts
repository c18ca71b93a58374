import { describe, expect, it } from '@jest/globals';
import { format, inspect } from 'node:util';
import { Credentials } from '../../src/kraken/credentials';
import { signRequest } from '../../src/kraken/sign';

const secret = 'kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==';
const apiKey = 'TESTKEY1234567890abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM';
// Pieces of the secret that must not show up anywhere either (a partial leak is still a leak).
const fragments = [secret, secret.slice(0, 16), secret.slice(20, 40), Buffer.from(secret, 'base64').toString('hex').slice(0, 16)];

const expectNoSecret = (text: string): void => {
  for (const fragment of fragments) expect(text).not.toContain(fragment);
};

const errorOf = (fn: () => unknown): Error => {
  try {
    fn();
  } catch (e) {
    if (e instanceof Error) return e;
    throw new Error('threw a non-Error');
  }
  throw new Error('did not throw');
};

describe('Credentials — validation at start-up', () => {
  it('accepts a non-empty key with a 64-byte base64 secret', () => {
    const credentials = new Credentials(apiKey, secret);
    expect(credentials.apiKey).toBe(apiKey);
  });

  it.each([
    ['an empty key', '', secret, /API key is missing or empty/],
    ['a blank key', '   ', secret, /API key is missing or empty/],
    ['a key with whitespace', 'abc def', secret, /API key contains whitespace/],
    ['an empty secret', apiKey, '', /API secret is missing or empty/],
    ['a secret that is not base64', apiKey, 'this is not base64!!', /not valid base64/],
    ['a base64url secret', apiKey, secret.replace(/\//g, '_'), /not valid base64/],
    ['a secret with missing padding', apiKey, secret.replace(/=+$/, ''), /not valid base64/],
    ['a 32-byte secret', apiKey, Buffer.alloc(32, 7).toString('base64'), /decodes to 32 bytes.*64 bytes/],
    ['a 65-byte secret', apiKey, Buffer.alloc(65, 7).toString('base64'), /decodes to 65 bytes/],
  ])('refuses %s with a clear error', (_label, key, value, message) => {
    const error = errorOf(() => new Credentials(key, value));
    expect(error.message).toMatch(message);
    if (value.length > 0) expect(error.message).not.toContain(value);
    expect(String(error.stack)).not.toContain(secret);
  });

  it('never echoes a malformed secret in its error', () => {
    const almost = `${secret.slice(0, -4)}!!==`;
    const error = errorOf(() => new Credentials(apiKey, almost));
    expect(error.message).not.toContain(almost.slice(0, 20));
    expect(inspect(error)).not.toContain(almost.slice(0, 20));
  });

  it('fromEnv names the missing or malformed variable, never its value', () => {
    expect(errorOf(() => Credentials.fromEnv({})).message).toBe('KRAKEN_API_KEY is not set');
    expect(errorOf(() => Credentials.fromEnv({ KRAKEN_API_KEY: apiKey })).message).toBe('KRAKEN_API_SECRET is not set');
    const bad = Buffer.alloc(40, 1).toString('base64');
    const error = errorOf(() => Credentials.fromEnv({ KRAKEN_API_KEY: apiKey, KRAKEN_API_SECRET: bad }));
    expect(error.message).toMatch(/^KRAKEN_API_KEY \/ KRAKEN_API_SECRET: .*decodes to 40 bytes/);
    expect(error.message).not.toContain(bad);
    expect(Credentials.fromEnv({ KRAKEN_API_KEY: apiKey, KRAKEN_API_SECRET: `${secret}\n` }).apiKey).toBe(apiKey);
  });
});

describe('Credentials — the secret never leaks', () => {
  const credentials = new Credentials(apiKey, secret);

  it('signs with the secret it holds (Kraken’s official vector)', () => {
    const body = 'nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25';
    expect(credentials.sign('/0/private/AddOrder', '1616492376594', body)).toBe(
      '4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==',
    );
    expect(credentials.sign('/0/private/Balance', 1n, 'nonce=1')).toBe(signRequest('/0/private/Balance', 1n, 'nonce=1', secret));
  });

  it('JSON.stringify shows a redacted form, also when nested', () => {
    const json = JSON.stringify({ config: { credentials } });
    expectNoSecret(json);
    expect(JSON.parse(json)).toEqual({ config: { credentials: { apiKey: 'TEST…LM', secret: '[redacted]' } } });
  });

  it('String(), template literals and string concatenation are redacted', () => {
    expectNoSecret(String(credentials));
    expectNoSecret(`${credentials}`);
    expectNoSecret('' + credentials.toString());
    expect(String(credentials)).toBe('Credentials(TEST…LM, secret [redacted])');
  });

  it('util.inspect, util.format and console-style formatting are redacted, at any depth', () => {
    expectNoSecret(inspect(credentials));
    expectNoSecret(inspect({ a: { b: { c: credentials } } }, { depth: null, showHidden: true }));
    expectNoSecret(format('%o %O %s %j', credentials, credentials, credentials, credentials));
    expect(inspect(credentials)).toContain('[redacted]');
  });

  it('has no enumerable or reflective property holding the secret', () => {
    expectNoSecret(JSON.stringify(Object.getOwnPropertyNames(credentials).map((name) => [name, Reflect.get(credentials, name)])));
    expectNoSecret(JSON.stringify({ ...credentials }));
    expectNoSecret(JSON.stringify(Object.entries(credentials)));
    expect(Object.getOwnPropertySymbols(credentials)).toEqual([]);
  });

  it('does not reveal a short key either', () => {
    const short = new Credentials('abc', secret);
    expect(String(short)).toBe('Credentials(****, secret [redacted])');
  });
});
