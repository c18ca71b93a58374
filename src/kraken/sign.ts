import { type KeyObject, createHash, createHmac, createSecretKey } from 'node:crypto';

/**
 * Kraken's `API-Sign`: base64(HMAC-SHA512(base64decode(secret), path ‖ SHA256(nonce ‖ body))).
 *
 * `body` must be the exact bytes that are sent (form-encoded or JSON text) and must contain the same nonce.
 *
 * @param path the URI path, e.g. `/0/private/AddOrder`
 * @param nonce the request's nonce, as sent
 * @param body the request body, as sent
 * @param secretBase64 the API secret, base64 as Kraken shows it
 * @returns the signature, standard base64
 */
export function signRequest(path: string, nonce: string | number | bigint, body: string, secretBase64: string): string {
  return signWithKey(path, nonce, body, signingKeyOf(secretBase64));
}

/** The HMAC key of a base64 API secret, decoded once (a client signs every private call with it). */
export const signingKeyOf = (secretBase64: string): KeyObject => createSecretKey(Buffer.from(secretBase64, 'base64'));

/** `signRequest` with the secret already decoded (`signingKeyOf`). */
export function signWithKey(path: string, nonce: string | number | bigint, body: string, key: KeyObject): string {
  const inner = createHash('sha256').update(String(nonce) + body, 'utf8').digest();
  return createHmac('sha512', key).update(path, 'utf8').update(inner).digest('base64');
}
