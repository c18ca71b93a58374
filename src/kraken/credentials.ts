import { inspect } from 'node:util';
import { type KeyObject } from 'node:crypto';
import { signWithKey, signingKeyOf } from './sign';

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const SECRET_BYTES = 64;
const REDACTED = '[redacted]';

/** The part of the key safe to show in a log line: enough to tell two keys apart, not enough to use one. */
const maskKey = (apiKey: string): string => (apiKey.length <= 8 ? '****' : `${apiKey.slice(0, 4)}…${apiKey.slice(-2)}`);

/**
 * A Kraken API key and its secret, checked at start-up. The secret lives in an ES private field and never
 * leaves this object: it signs requests itself, and every way of printing the object (`JSON.stringify`,
 * `String()`, template literals, `util.inspect`, `console.log`) shows a redacted form. Errors about a bad
 * secret describe the problem, never the value.
 */
export class Credentials {
  readonly apiKey: string;
  /** The secret, decoded once into an HMAC key (never shown: toString and toJSON redact it). */
  readonly #signingKey: KeyObject;

  /**
   * @param apiKey the public API key, as Kraken shows it (non-empty)
   * @param secretBase64 the private key, base64 as Kraken shows it (64 bytes once decoded)
   * @throws Error naming what is wrong (`API key is empty`, `API secret is not valid base64`, …)
   */
  constructor(apiKey: string, secretBase64: string) {
    const key = typeof apiKey === 'string' ? apiKey.trim() : '';
    if (key.length === 0) throw new Error('Kraken API key is missing or empty');
    if (/\s/.test(key)) throw new Error('Kraken API key contains whitespace');
    const secret = typeof secretBase64 === 'string' ? secretBase64.trim() : '';
    if (secret.length === 0) throw new Error('Kraken API secret is missing or empty');
    if (!STRICT_BASE64.test(secret)) {
      throw new Error('Kraken API secret is not valid base64 (expected the private key exactly as Kraken shows it)');
    }
    const bytes = Buffer.from(secret, 'base64').length;
    if (bytes !== SECRET_BYTES) {
      throw new Error(`Kraken API secret decodes to ${bytes} bytes; a Kraken private key is ${SECRET_BYTES} bytes`);
    }
    this.apiKey = key;
    this.#signingKey = signingKeyOf(secret);
  }

  /**
   * Reads `KRAKEN_API_KEY` / `KRAKEN_API_SECRET` (or the names given) from an environment.
   * @throws Error naming the missing or malformed variable, never its value
   */
  static fromEnv(
    env: Readonly<Record<string, string | undefined>> = process.env,
    names: { readonly key: string; readonly secret: string } = { key: 'KRAKEN_API_KEY', secret: 'KRAKEN_API_SECRET' },
  ): Credentials {
    const key = env[names.key];
    const secret = env[names.secret];
    if (key === undefined || key.trim() === '') throw new Error(`${names.key} is not set`);
    if (secret === undefined || secret.trim() === '') throw new Error(`${names.secret} is not set`);
    try {
      return new Credentials(key, secret);
    } catch (e) {
      // The messages above never contain the secret; only the variable name is added.
      throw new Error(`${names.key} / ${names.secret}: ${e instanceof Error ? e.message : 'invalid credentials'}`);
    }
  }

  /**
   * Kraken's `API-Sign` for one request, computed here so the secret never leaves this object.
   * @param path the URI path, e.g. `/0/private/AddOrder`
   * @param nonce the nonce the body carries
   * @param body the exact body bytes that are sent
   */
  sign(path: string, nonce: string | number | bigint, body: string): string {
    return signWithKey(path, nonce, body, this.#signingKey);
  }

  toString(): string {
    return `Credentials(${maskKey(this.apiKey)}, secret ${REDACTED})`;
  }

  toJSON(): { readonly apiKey: string; readonly secret: string } {
    return { apiKey: maskKey(this.apiKey), secret: REDACTED };
  }

  [inspect.custom](): string {
    return this.toString();
  }

  get [Symbol.toStringTag](): string {
    return 'Credentials';
  }
}
