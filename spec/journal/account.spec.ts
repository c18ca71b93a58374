import { describe, expect, it } from '@jest/globals';
import { accountFingerprint } from '../../src/journal/account';

describe('accountFingerprint', () => {
  it('is the same for one key and differs between keys', () => {
    expect(accountFingerprint('key-one')).toBe(accountFingerprint('key-one'));
    expect(accountFingerprint('key-one')).not.toBe(accountFingerprint('key-two'));
  });

  it('is a short SHA-256 of the key that does not contain the key', () => {
    // sha256("key-one") begins 9b346041bc9a4957 (checked with `sha256sum`); only those 16 hex digits are kept.
    const fingerprint = accountFingerprint('key-one');
    expect(fingerprint).toBe('key-sha256:9b346041bc9a4957');
    expect(fingerprint).not.toContain('key-one');
  });
});
