import { type PaperExchange } from '../../src/paper';
import { type ManualClock, paperWithClient, result, TestClient } from './harness';

describe('paper exchange: rate limits at starter tier (virtual clock, no sleeping)', () => {
  let exchange: PaperExchange;
  let client: TestClient;
  let clock: ManualClock;

  beforeEach(async () => {
    ({ exchange, client, clock } = await paperWithClient({ tier: 'starter', balances: { USD: '100000000', XBT: '100' } }));
  });
  afterEach(() => exchange.close());

  const buy = (params: Record<string, string> = {}) =>
    client.private('AddOrder', { pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '50000.0', volume: '0.001', ...params });

  describe('REST counter (per key: max 15, decay 0.33/s)', () => {
    it('allows 15 calls at once, refuses the 16th with EAPI:Rate limit exceeded, and recovers as it decays', async () => {
      for (let i = 0; i < 15; i++) expect((await client.private('Balance')).error).toEqual([]);
      expect(await client.private('Balance')).toEqual({ error: ['EAPI:Rate limit exceeded'] });
      expect(exchange.inspect.rateLimitErrors()).toEqual({ rest: 1, trading: 0 });
      clock.tick(3_000);
      expect(await client.private('Balance')).toEqual({ error: ['EAPI:Rate limit exceeded'] });
      clock.tick(31); // one unit decays in 1 / 0.33 s = 3030.3 ms
      expect((await client.private('Balance')).error).toEqual([]);
      expect(await client.private('OpenOrders')).toEqual({ error: ['EAPI:Rate limit exceeded'] });
    });

    it('charges TradesHistory 2 units', async () => {
      for (let i = 0; i < 14; i++) expect((await client.private('OpenOrders')).error).toEqual([]);
      expect(await client.private('TradesHistory')).toEqual({ error: ['EAPI:Rate limit exceeded'] });
      expect((await client.private('ClosedOrders')).error).toEqual([]);
    });

    it('does not charge AddOrder, CancelOrder or public calls to it, and counts per key', async () => {
      for (let i = 0; i < 15; i++) await client.private('QueryOrders', { txid: 'x' });
      expect(await client.private('Balance')).toEqual({ error: ['EAPI:Rate limit exceeded'] });
      const added = result<{ txid: string[] }>(await buy());
      expect((await client.private('CancelOrder', { txid: added.txid[0] ?? '' })).error).toEqual([]);
      expect((await client.public('Ticker', { pair: 'XBTUSD' })).error).toEqual([]);
      const other = new TestClient(exchange.url, exchange.addApiKey(), clock.now);
      expect((await other.private('Balance')).error).toEqual([]);
    });
  });

  describe('public calls (per IP: about one a second, a burst of 5; Kraken publishes no exact figures)', () => {
    it('allows a burst of 5 public calls, refuses the 6th with EAPI:Rate limit exceeded in the body, and recovers at one a second', async () => {
      for (let i = 0; i < 5; i++) expect((await client.public('Ticker', { pair: 'XBTUSD' })).error).toEqual([]);
      expect(await client.public('Time')).toEqual({ error: ['EAPI:Rate limit exceeded'] });
      expect(exchange.inspect.publicRateLimitErrors()).toBe(1);
      clock.tick(999);
      expect(await client.public('AssetPairs')).toEqual({ error: ['EAPI:Rate limit exceeded'] });
      clock.tick(1);
      expect((await client.public('AssetPairs')).error).toEqual([]);
      expect(await client.public('Ticker', { pair: 'XBTUSD' })).toEqual({ error: ['EAPI:Rate limit exceeded'] });
      // Not the key's REST counter: private calls go on.
      expect((await client.private('Balance')).error).toEqual([]);
      expect(exchange.inspect.rateLimitErrors()).toEqual({ rest: 0, trading: 0 });
    });

    it('never limits public calls at tier unlimited', async () => {
      const { exchange: open, client: reader } = await paperWithClient({ tier: 'unlimited' });
      try {
        for (let i = 0; i < 20; i++) expect((await reader.public('Time')).error).toEqual([]);
      } finally {
        await open.close();
      }
    });
  });

  describe('trading counter (per pair: threshold 60, decay 1/s)', () => {
    it('allows 60 AddOrders at once on a pair, refuses the 61st with EOrder:Rate limit exceeded', async () => {
      for (let i = 0; i < 60; i++) expect((await buy()).error).toEqual([]);
      expect(await buy()).toEqual({ error: ['EOrder:Rate limit exceeded'] });
      expect(exchange.inspect.orders()).toHaveLength(60);
      expect(exchange.inspect.rateLimitErrors()).toEqual({ rest: 0, trading: 1 });
      // Another pair has its own counter.
      expect((await buy({ pair: 'ETHUSD', price: '2000.00', volume: '0.01' })).error).toEqual([]);
      clock.tick(1_000);
      // The open-order limit (60 per pair at starter) is the next wall on this pair.
      expect(await buy()).toEqual({ error: ['EOrder:Orders limit exceeded'] });
    });

    it('charges an AddOrder that then fails validation', async () => {
      for (let i = 0; i < 60; i++) expect(await buy({ volume: '0' })).toEqual({ error: ['EGeneral:Invalid arguments:volume'] });
      expect(await buy()).toEqual({ error: ['EOrder:Rate limit exceeded'] });
      // An unknown pair has no counter to charge.
      expect(await buy({ pair: 'NOPE' })).toEqual({ error: ['EQuery:Unknown asset pair'] });
    });

    it('charges a cancel by the age of the order (+8 under 5 s, nothing after 300 s)', async () => {
      const young = result<{ txid: string[] }>(await buy()).txid[0] ?? '';
      expect((await client.private('CancelOrder', { txid: young })).error).toEqual([]); // counter: 1 + 8 = 9
      for (let i = 0; i < 51; i++) expect((await buy()).error).toEqual([]); // 60
      expect(await buy()).toEqual({ error: ['EOrder:Rate limit exceeded'] });

      clock.tick(300_000); // the counter is empty again and the 51 orders are 300 s old
      const old = exchange.inspect.openOrders()[0]?.txid ?? '';
      for (let i = 0; i < 9; i++) expect((await buy()).error).toEqual([]);
      // A free cancel (old order) still works; a young order's cancel (+8) needs room: 9 + 8 = 17 fits.
      expect((await client.private('CancelOrder', { txid: old })).error).toEqual([]);
    });

    it('refuses a cancel whose penalty does not fit, leaving the order open', async () => {
      const young = result<{ txid: string[] }>(await buy()).txid[0] ?? '';
      for (let i = 0; i < 54; i++) expect((await buy()).error).toEqual([]); // 55
      expect(await client.private('CancelOrder', { txid: young })).toEqual({ error: ['EOrder:Rate limit exceeded'] });
      expect(exchange.inspect.order(young)?.status).toBe('open');
      clock.tick(3_000); // 52 + 8 = 60 fits
      expect((await client.private('CancelOrder', { txid: young })).error).toEqual([]);
    });
  });
});
