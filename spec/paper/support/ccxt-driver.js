'use strict';
/*
 * Drives ccxt's unmodified `kraken` class against a Kraken-compatible URL and prints what it saw as one JSON
 * line. It runs as its own node process because ccxt's dependencies are ES modules that Node 20 can require
 * but jest's module loader cannot.
 *
 * usage: node ccxt-driver.js <url> <apiKey> <apiSecret>
 */
const ccxt = require('ccxt');

async function main() {
  const [url, apiKey, secret] = process.argv.slice(2);
  const kraken = new ccxt.kraken({ apiKey, secret, enableRateLimit: false });
  kraken.urls.api.public = url;
  kraken.urls.api.private = url;
  const seen = {};

  const markets = await kraken.loadMarkets();
  const btc = markets['BTC/USD'];
  seen.markets = {
    symbols: Object.keys(markets),
    btc: { id: btc.id, amountMin: btc.limits.amount.min, costMin: btc.limits.cost.min, pricePrecision: btc.precision.price },
  };
  const ticker = await kraken.fetchTicker('BTC/USD');
  seen.ticker = { last: ticker.last, bid: ticker.bid, ask: ticker.ask };

  const market = await kraken.createOrder('BTC/USD', 'market', 'buy', 0.01, undefined, { clientOrderId: 'ccxt-market' });
  const limit = await kraken.createOrder('BTC/USD', 'limit', 'buy', 0.02, 50000, { clientOrderId: 'ccxt-limit' });
  const stop = await kraken.createOrder('BTC/USD', 'market', 'sell', 0.01, undefined, { stopLossPrice: 50000, clientOrderId: 'ccxt-stop' });
  const takeProfit = await kraken.createOrder('BTC/USD', 'market', 'sell', 0.01, undefined, { takeProfitPrice: 70000, clientOrderId: 'ccxt-tp' });
  seen.created = { market: market.id, limit: limit.id, stop: stop.id, takeProfit: takeProfit.id };

  const fetched = await kraken.fetchOrder(limit.id);
  seen.fetched = { clientOrderId: fetched.clientOrderId, status: fetched.status, price: fetched.price, amount: fetched.amount };
  seen.open = (await kraken.fetchOpenOrders()).map((o) => o.clientOrderId).sort();
  await kraken.cancelOrder(limit.id);
  seen.closed = (await kraken.fetchClosedOrders()).map((o) => ({ clientOrderId: o.clientOrderId, status: o.status, filled: o.filled }));
  const balance = await kraken.fetchBalance();
  seen.balance = { btcTotal: balance.BTC.total, usdTotal: balance.USD.total, btcUsed: balance.BTC.used };

  seen.errors = {};
  for (const [name, attempt] of [
    ['insufficientFunds', () => kraken.createOrder('BTC/USD', 'limit', 'buy', 100, 50000)],
    ['unknownOrder', () => kraken.cancelOrder('OAAAAA-BBBBB-CCCCCC')],
  ]) {
    try {
      await attempt();
      seen.errors[name] = 'none';
    } catch (e) {
      seen.errors[name] = e.constructor.name;
    }
  }
  process.stdout.write(`${JSON.stringify(seen)}\n`);
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ failed: `${e.constructor.name}: ${e.message}` })}\n`);
  process.exitCode = 1;
});
