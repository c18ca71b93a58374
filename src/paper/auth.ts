import { timingSafeEqual } from 'node:crypto';
import { signRequest } from '../kraken/sign';

export interface ApiCredentials {
  readonly apiKey: string;
  /** Base64 of 64 bytes, as Kraken shows it. */
  readonly apiSecret: string;
}

/** How many failed authentications (bad key, signature or nonce) lock a key out, and for how long. */
export interface LockoutPolicy {
  readonly failures: number;
  readonly windowMs: number;
  readonly durationMs: number;
}

export const DEFAULT_LOCKOUT: LockoutPolicy = { failures: 10, windowMs: 60_000, durationMs: 60_000 };

export type AuthOutcome = { readonly ok: true; readonly apiKey: string } | { readonly ok: false; readonly error: string };

export interface SignedRequest {
  readonly apiKey: string | undefined;
  readonly apiSign: string | undefined;
  readonly path: string;
  readonly nonceText: string | undefined;
  readonly body: string;
}

const MAX_NONCE = (1n << 64n) - 1n;

interface KeyState {
  readonly secret: string;
  lastNonce: bigint;
}

/**
 * Kraken's private-call checks, in Kraken's order: lockout, `API-Key`, `API-Sign`, then a nonce strictly
 * above the last one accepted for that key. Failures are counted per key string; too many in a window lock
 * the key out with `EGeneral:Temporary lockout`.
 */
export class Authenticator {
  private readonly keys = new Map<string, KeyState>();
  private readonly failures = new Map<string, number[]>();
  private readonly lockedUntil = new Map<string, number>();

  constructor(private readonly policy: LockoutPolicy) {}

  addKey(credentials: ApiCredentials): void {
    if (this.keys.has(credentials.apiKey)) throw new Error('paper exchange: duplicate API key');
    this.keys.set(credentials.apiKey, { secret: credentials.apiSecret, lastNonce: 0n });
  }

  verify(request: SignedRequest, now: number): AuthOutcome {
    const keyName = request.apiKey ?? '';
    const until = this.lockedUntil.get(keyName);
    if (until !== undefined && now < until) return { ok: false, error: 'EGeneral:Temporary lockout' };
    const state = this.keys.get(keyName);
    if (!state) return this.fail(keyName, 'EAPI:Invalid key', now);
    if (!request.apiSign || !this.signatureMatches(request, state.secret)) return this.fail(keyName, 'EAPI:Invalid signature', now);
    const nonce = parseNonce(request.nonceText);
    if (nonce === undefined || nonce <= state.lastNonce) return this.fail(keyName, 'EAPI:Invalid nonce', now);
    state.lastNonce = nonce;
    return { ok: true, apiKey: keyName };
  }

  private signatureMatches(request: SignedRequest, secret: string): boolean {
    const expected = Buffer.from(signRequest(request.path, request.nonceText ?? '', request.body, secret), 'utf8');
    const given = Buffer.from(request.apiSign ?? '', 'utf8');
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  private fail(keyName: string, error: string, now: number): AuthOutcome {
    const recent = (this.failures.get(keyName) ?? []).filter((t) => now - t < this.policy.windowMs);
    recent.push(now);
    if (recent.length >= this.policy.failures) {
      this.lockedUntil.set(keyName, now + this.policy.durationMs);
      this.failures.delete(keyName);
    } else {
      this.failures.set(keyName, recent);
    }
    // Unknown keys are remembered only while they keep failing; bound the map against a key-guessing flood.
    if (this.failures.size > 10_000) this.failures.clear();
    return { ok: false, error };
  }
}

function parseNonce(text: string | undefined): bigint | undefined {
  if (text === undefined || !/^\d{1,20}$/.test(text)) return undefined;
  const n = BigInt(text);
  return n > 0n && n <= MAX_NONCE ? n : undefined;
}
