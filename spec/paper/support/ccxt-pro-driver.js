'use strict';
/*
 * Drives ccxt pro's unmodified `kraken` class (WebSocket v2) against the paper exchange and prints what it saw as
 * one JSON line: ticker, an order placed over the socket, the fill it gets in watchMyTrades, orders, a cancel.
 * Its own node process, as ccxt-driver.js (ccxt's ES-module dependencies do not load under jest on Node 20).
 *
 * usage: node ccxt-pro-driver.js <url> <wsUrl> <apiKey> <apiSecret>
 */
const ccxt = require('ccxt');

async function main() {
  const [url, wsUrl, apiKey, secret] = process.argv.slice(2);
  const kraken = new ccxt.pro.kraken({ apiKey, secret, enableRateLimit: false });
  kraken.urls.api.public = url;
  kraken.urls.api.private = url;
  kraken.urls.api.ws.publicV2 = wsUrl;
  kraken.urls.api.ws.privateV2 = wsUrl;
  const seen = {};
  // ccxt asks for this before it opens a plain ws:// URL (it uses the same agent for http and ws).
  await kraken.loadHttpProxyAgent();
  await kraken.loadMarkets();

  const ticker = await kraken.watchTicker('BTC/USD');
  seen.ticker = { symbol: ticker.symbol, last: ticker.last, bid: ticker.bid, ask: ticker.ask };

  const trades = kraken.watchMyTrades('BTC/USD');
  const placed = await kraken.createOrderWs('BTC/USD', 'market', 'buy', 0.01);
  seen.placed = { id: placed.id };
  const fills = await trades;
  seen.trades = fills.map((t) => ({ order: t.order, symbol: t.symbol, side: t.side, amount: t.amount, price: t.price }));

  const watched = kraken.watchOrders('BTC/USD');
  const resting = await kraken.createOrderWs('BTC/USD', 'limit', 'buy', 0.02, 50000);
  const orders = await watched;
  seen.resting = resting.id;
  seen.orders = orders.map((o) => ({ id: o.id, status: o.status }));
  // ccxt resolves cancelOrderWs with Kraken's raw answer.
  const cancelled = await kraken.cancelOrderWs(resting.id);
  seen.cancelled = { success: cancelled.success, result: cancelled.result };
  await kraken.close();
  process.stdout.write(`${JSON.stringify(seen)}\n`);
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ failed: `${e.constructor.name}: ${e.message}` })}\n`);
  process.exitCode = 1;
});
