import { describe, expect, it } from '@jest/globals';
import { parseWebSocketsToken } from '../../src/kraken/parse-account';
import { WireFormatError } from '../../src/kraken/wire-parse';

describe('parseWebSocketsToken', () => {
  it('reads the token and its lifetime', () => {
    expect(parseWebSocketsToken({ token: '1Dwc4lzSwNWOAwkMdqhssNNFhs1ed606d1WcF3XfEMw', expires: 900 })).toEqual({
      token: '1Dwc4lzSwNWOAwkMdqhssNNFhs1ed606d1WcF3XfEMw',
      expiresInSeconds: 900,
    });
  });

  it('refuses a result without a usable token, and never quotes the value in its message', () => {
    for (const token of ['', 12345678, null]) {
      expect(() => parseWebSocketsToken({ token, expires: 900 })).toThrow(WireFormatError);
      expect(() => parseWebSocketsToken({ token, expires: 900 })).toThrow('GetWebSocketsToken result.token: expected a non-empty string');
    }
    let message = '';
    try {
      parseWebSocketsToken({ token: 'secret-token-text', expires: 'soon' });
    } catch (error) {
      message = error instanceof Error ? error.message : '';
    }
    expect(message).toMatch(/expires/);
    expect(message).not.toContain('secret-token-text');
  });
});
