import { createHash } from 'node:crypto';

/**
 * The identity a journal is written for: a fingerprint of the API key (its SHA-256, shortened), never the key's
 * secret. A journal opened with another account's key is refused: adopting another account's orders, or
 * resending what it journaled, would trade on the wrong account.
 *
 * @param apiKey The public API key (for the paper exchange, its generated key).
 * @returns e.g. `key-sha256:3f2a…` (16 hex digits).
 */
export function accountFingerprint(apiKey: string): string {
  return `key-sha256:${createHash('sha256').update(apiKey, 'utf8').digest('hex').slice(0, 16)}`;
}
