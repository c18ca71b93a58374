import fetch from 'cross-fetch';
import { signRequest } from '../../src/kraken/sign';
import { paperWithClient, result, TestClient } from './harness';

describe('paper exchange: authentication', () => {
  it('accepts a correctly signed form-encoded call', async () => {
    const { exchange, client } = await paperWithClient();
    try {
      expect(result(await client.private('Balance'))).toMatchObject({ ZUSD: '100000.0000', XXBT: '10.0000000000' });
    } finally {
      await exchange.close();
    }
  });

  it('accepts a signed JSON body, nonce as a string or as a JSON number', async () => {
    const { exchange, clock } = await paperWithClient({}, 'json');
    try {
      const json = new TestClient(exchange.url, exchange, clock.now, 'json');
      expect((await json.private('Balance')).error).toEqual([]);
      const nonce = '99999999999999999';
      const body = `{"nonce":${nonce},"trades":true}`;
      const res = await fetch(`${exchange.url}/0/private/OpenOrders`, {
        method: 'POST',
        headers: { 'API-Key': exchange.apiKey, 'API-Sign': signRequest('/0/private/OpenOrders', nonce, body, exchange.apiSecret), 'Content-Type': 'application/json' },
        body,
      });
      expect(await res.json()).toEqual({ error: [], result: { open: {} } });
    } finally {
      await exchange.close();
    }
  });

  it('rejects an unknown key with EAPI:Invalid key and a bad signature with EAPI:Invalid signature', async () => {
    const { exchange, client } = await paperWithClient();
    try {
      expect(await client.private('Balance', {}, { key: 'not-a-key' })).toEqual({ error: ['EAPI:Invalid key'] });
      expect(await client.private('Balance', {}, { sign: 'AAAA' })).toEqual({ error: ['EAPI:Invalid signature'] });
      const other = new TestClient(exchange.url, { apiKey: exchange.apiKey, apiSecret: Buffer.alloc(64, 1).toString('base64') });
      expect(await other.private('Balance')).toEqual({ error: ['EAPI:Invalid signature'] });
    } finally {
      await exchange.close();
    }
  });

  it('rejects a repeated or lower nonce with EAPI:Invalid nonce, per key', async () => {
    const { exchange, client } = await paperWithClient();
    try {
      expect((await client.private('Balance', {}, { nonce: '1000' })).error).toEqual([]);
      expect(await client.private('Balance', {}, { nonce: '1000' })).toEqual({ error: ['EAPI:Invalid nonce'] });
      expect(await client.private('Balance', {}, { nonce: '999' })).toEqual({ error: ['EAPI:Invalid nonce'] });
      expect(await client.private('Balance', {}, { nonce: 'abc' })).toEqual({ error: ['EAPI:Invalid nonce'] });
      expect((await client.private('Balance', {}, { nonce: '1001' })).error).toEqual([]);
      const second = exchange.addApiKey();
      const other = new TestClient(exchange.url, second);
      expect((await other.private('Balance', {}, { nonce: '5' })).error).toEqual([]);
    } finally {
      await exchange.close();
    }
  });

  it('locks a key out after repeated failures, and lets it back in after the lockout', async () => {
    const { exchange, client, clock } = await paperWithClient({ lockout: { failures: 3, windowMs: 60_000, durationMs: 30_000 } });
    try {
      for (let i = 0; i < 3; i++) expect(await client.private('Balance', {}, { sign: 'bad' })).toEqual({ error: ['EAPI:Invalid signature'] });
      expect(await client.private('Balance')).toEqual({ error: ['EGeneral:Temporary lockout'] });
      clock.tick(30_000);
      expect((await client.private('Balance')).error).toEqual([]);
    } finally {
      await exchange.close();
    }
  });

  it('derives the same credentials from the same seed, and signs with a 64-byte secret', async () => {
    const a = await paperWithClient({ seed: 5 });
    const b = await paperWithClient({ seed: 5 });
    try {
      expect(a.exchange.apiKey).toBe(b.exchange.apiKey);
      expect(a.exchange.apiSecret).toBe(b.exchange.apiSecret);
      expect(Buffer.from(a.exchange.apiSecret, 'base64')).toHaveLength(64);
    } finally {
      await Promise.all([a.exchange.close(), b.exchange.close()]);
    }
  });
});
