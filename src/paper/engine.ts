import { Decimal } from 'decimal.js';
import { PairCatalogue, type PaperPair } from './catalogue';
import { type Ledger } from './ledger';
import { type Market } from './market';
import { type IdMint, isOpen, isTriggerType, type OrderBook, type PaperOrder, remaining } from './orders';

/** One execution of a paper order. */
export interface PaperTrade {
  readonly id: string;
  /** Kraken's numeric `trade_id`. */
  readonly tradeNumber: number;
  readonly orderTxid: string;
  readonly pair: PaperPair;
  readonly side: 'buy' | 'sell';
  readonly orderType: string;
  readonly price: Decimal;
  readonly volume: Decimal;
  readonly cost: Decimal;
  readonly fee: Decimal;
  /** Epoch ms. */
  readonly time: number;
  readonly maker: boolean;
}

/** What an order holds while it rests: quote for buys (at its worst price, fee included), base for sells. */
export interface Hold {
  readonly asset: string;
  readonly amount: Decimal;
}

const ONE = new Decimal(1);

/**
 * What happened to an order, as it happens: the push feed (WebSocket `executions`) is built from these, so it
 * reports exactly what REST would show afterwards, in the order it happened.
 */
export type EngineEvent =
  | { readonly kind: 'accepted'; readonly order: PaperOrder; readonly at: number }
  | { readonly kind: 'trade'; readonly order: PaperOrder; readonly trade: PaperTrade }
  | { readonly kind: 'closed'; readonly order: PaperOrder; readonly at: number };

/**
 * The matching engine: executes paper orders against the seeded market, moves balances, and keeps the trade
 * tape. Pure with respect to time: every method takes `now` (epoch ms).
 */
export class Engine {
  private readonly tape: PaperTrade[] = [];
  private tradeNumber = 40_000_000;
  private readonly feeRates = new Map<string, { taker: Decimal; maker: Decimal; takerFactor: Decimal }>();
  private readonly watchers = new Set<(event: EngineEvent) => void>();

  constructor(
    private readonly market: Market,
    private readonly book: OrderBook,
    private readonly ledger: Ledger,
    private readonly ids: IdMint,
  ) {}

  trades(): readonly PaperTrade[] {
    return this.tape;
  }

  /** Calls `watcher` with every order event from now on; the returned function stops it. */
  watch(watcher: (event: EngineEvent) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  private emit(event: EngineEvent): void {
    for (const watcher of this.watchers) watcher(event);
  }

  takerRate(p: PaperPair): Decimal {
    return this.rates(p).taker;
  }

  makerRate(p: PaperPair): Decimal {
    return this.rates(p).maker;
  }

  private rates(p: PaperPair): { taker: Decimal; maker: Decimal; takerFactor: Decimal } {
    let r = this.feeRates.get(p.key);
    if (!r) {
      const taker = PairCatalogue.feeRate(p.fees);
      r = { taker, maker: PairCatalogue.feeRate(p.feesMaker), takerFactor: ONE.plus(taker) };
      this.feeRates.set(p.key, r);
    }
    return r;
  }

  /** The hold an order of these terms needs for `volume` still to execute. */
  holdFor(o: Pick<PaperOrder, 'pair' | 'side' | 'orderType' | 'price' | 'price2' | 'triggered'>, volume: Decimal): Hold {
    if (o.side === 'sell') return { asset: o.pair.base, amount: volume };
    const worstPrice = this.buyReferencePrice(o);
    return { asset: o.pair.quote, amount: volume.mul(worstPrice).mul(this.rates(o.pair).takerFactor) };
  }

  /** Held amount per asset across open orders, optionally leaving one order out. */
  holds(except?: PaperOrder): Map<string, Decimal> {
    const held = new Map<string, Decimal>();
    for (const o of this.book.open()) {
      if (o === except) continue;
      const h = this.holdFor(o, remaining(o));
      held.set(h.asset, (held.get(h.asset) ?? new Decimal(0)).plus(h.amount));
    }
    return held;
  }

  /** Balance not held by open orders. */
  available(asset: string, except?: PaperOrder): Decimal {
    let held = new Decimal(0);
    for (const o of this.book.openValues()) {
      if (o === except || (o.side === 'sell' ? o.pair.base : o.pair.quote) !== asset) continue;
      held = held.plus(this.holdFor(o, remaining(o)).amount);
    }
    return this.ledger.balance(asset).minus(held);
  }

  /** Adds an accepted order to the book and executes whatever it can execute at once. */
  accept(order: PaperOrder, now: number): void {
    this.book.add(order);
    this.emit({ kind: 'accepted', order, at: now });
    this.execute(order, now, { liquidity: order.pair.liquidityPerStep, arriving: true });
    if (isOpen(order) && order.timeInForce === 'IOC' && !isTriggerType(order.orderType)) {
      this.close(order, 'canceled', now, volExecOrNull(order) ? 'Partially filled IOC' : 'Unfilled IOC');
    }
  }

  cancel(order: PaperOrder, now: number, reason: string): void {
    this.close(order, 'canceled', now, reason);
  }

  /** GTD orders whose time has come. */
  expire(now: number): void {
    for (const o of this.book.open()) {
      if (o.expiresAt !== null && o.expiresAt <= now) this.close(o, 'expired', o.expiresAt, null);
    }
  }

  /**
   * One matching run after the market moved: triggers are checked on the last price, resting limits that the
   * last price reached fill at their own price (maker), sharing the pair's liquidity for this run in time
   * priority, so a large order fills over several runs. `offered` replaces a pair's `liquidityPerStep` for this run
   * (base volume by pair key), as a thin or deep level does on Kraken.
   */
  match(now: number, offered: ReadonlyMap<string, Decimal> = new Map()): void {
    const liquidity = new Map<string, Decimal>();
    for (const o of this.book.open()) {
      const left = liquidity.get(o.pair.key) ?? offered.get(o.pair.key) ?? o.pair.liquidityPerStep;
      const used = this.execute(o, now, { liquidity: left, arriving: false });
      liquidity.set(o.pair.key, left.minus(used));
    }
  }

  /**
   * Executes what `order` can execute now; returns the liquidity volume it used. An arriving order (or a -limit
   * order at the moment its trigger fires) that crosses the touch takes at the touch; a resting order that the
   * market reached makes at its own price.
   */
  private execute(order: PaperOrder, now: number, run: { liquidity: Decimal; arriving: boolean }): Decimal {
    if (!isOpen(order)) return new Decimal(0);
    const q = this.market.quote(order.pair.key);
    if (isTriggerType(order.orderType) && !order.triggered) {
      if (!this.isTriggered(order, q.last)) return new Decimal(0);
      order.triggered = true;
      order.misc.push(order.orderType.startsWith('stop-loss') ? 'stopped' : 'touched');
      run = { ...run, arriving: true };
    }
    const marketLike = order.orderType === 'market' || order.orderType === 'stop-loss' || order.orderType === 'take-profit';
    if (marketLike) {
      this.fillAtMarket(order, now);
      return new Decimal(0);
    }
    const limit = this.limitPrice(order);
    const marketable = run.arriving && (order.side === 'buy' ? limit.gte(q.ask) : limit.lte(q.bid));
    const reached = !run.arriving && (order.side === 'buy' ? q.last.lte(limit) : q.last.gte(limit));
    if (!marketable && !reached) return new Decimal(0);
    const volume = Decimal.min(remaining(order), run.liquidity);
    if (volume.lte(0)) return new Decimal(0);
    if (marketable) this.fill(order, volume, order.side === 'buy' ? q.ask : q.bid, false, now);
    else this.fill(order, volume, limit, true, now);
    return volume;
  }

  private fillAtMarket(order: PaperOrder, now: number): void {
    const q = this.market.quote(order.pair.key);
    const price = order.side === 'buy' ? q.ask : q.bid;
    let volume = remaining(order);
    if (order.side === 'buy') {
      const affordable = this.available(order.pair.quote, order)
        .div(price.mul(ONE.plus(this.takerRate(order.pair))))
        .toDecimalPlaces(order.pair.lotDecimals, Decimal.ROUND_DOWN);
      volume = Decimal.min(volume, Decimal.max(0, affordable));
    } else {
      volume = Decimal.min(volume, Decimal.max(0, this.available(order.pair.base, order)));
    }
    if (volume.gt(0)) this.fill(order, volume, price, false, now);
    if (isOpen(order)) this.close(order, 'canceled', now, 'Insufficient funds');
  }

  private fill(order: PaperOrder, volume: Decimal, price: Decimal, maker: boolean, now: number): void {
    const p = order.pair;
    const cost = volume.mul(price).toDecimalPlaces(p.costDecimals, Decimal.ROUND_HALF_UP);
    const fee = cost.mul(maker ? this.makerRate(p) : this.takerRate(p)).toDecimalPlaces(p.costDecimals, Decimal.ROUND_HALF_UP);
    if (order.side === 'buy') {
      this.ledger.move(p.quote, cost.neg());
      if (order.feeInBase) {
        this.ledger.move(p.base, volume.minus(fee.div(price)));
      } else {
        this.ledger.move(p.quote, fee.neg());
        this.ledger.move(p.base, volume);
      }
    } else {
      this.ledger.move(p.base, volume.neg());
      this.ledger.move(p.quote, cost.minus(fee));
    }
    const trade: PaperTrade = {
      id: this.ids.tradeId(),
      tradeNumber: ++this.tradeNumber,
      orderTxid: order.txid,
      pair: p,
      side: order.side,
      orderType: order.orderType,
      price,
      volume,
      cost,
      fee,
      time: now,
      maker,
    };
    this.tape.push(trade);
    this.market.recordFill(p.key, price, volume);
    order.volExec = order.volExec.plus(volume);
    order.cost = order.cost.plus(cost);
    order.fee = order.fee.plus(fee);
    order.trades.push(trade.id);
    this.emit({ kind: 'trade', order, trade });
    if (order.volExec.gte(order.volume)) this.close(order, 'closed', now, null);
  }

  private close(order: PaperOrder, status: 'closed' | 'canceled' | 'expired', now: number, reason: string | null): void {
    order.status = status;
    order.closedAt = now;
    order.reason = reason;
    if (status !== 'closed' && order.volExec.gt(0) && !order.misc.includes('partial')) order.misc.push('partial');
    this.book.settle(order);
    this.emit({ kind: 'closed', order, at: now });
  }

  private isTriggered(order: PaperOrder, last: Decimal): boolean {
    const trigger = order.price;
    if (!trigger) return true;
    const stop = order.orderType.startsWith('stop-loss');
    // A stop fires when the price moves against the position, a take-profit when it moves in its favour.
    if (order.side === 'sell') return stop ? last.lte(trigger) : last.gte(trigger);
    return stop ? last.gte(trigger) : last.lte(trigger);
  }

  private limitPrice(order: PaperOrder): Decimal {
    const price = order.orderType === 'limit' ? order.price : order.price2;
    if (!price) throw new Error(`paper engine: order ${order.txid} has no limit price`);
    return price;
  }

  private buyReferencePrice(o: Pick<PaperOrder, 'pair' | 'orderType' | 'price' | 'price2'>): Decimal {
    if (o.orderType === 'limit' && o.price) return o.price;
    if ((o.orderType === 'stop-loss-limit' || o.orderType === 'take-profit-limit') && o.price2) return o.price2;
    const ask = this.market.quote(o.pair.key).ask;
    return o.price && o.orderType !== 'market' ? Decimal.max(o.price, ask) : ask;
  }
}

const volExecOrNull = (o: PaperOrder): boolean => o.volExec.gt(0);
