import { Decimal } from 'decimal.js';
import { BehaviorSubject, type Observable, Subject, defer, filter, map, of, take } from 'rxjs';
import { type OrderRole } from '../model/report';
import { type Side } from '../model/signal';

/** A protective order (stop-loss, take-profit) or exit order the handler has sent or is sending for a pair. */
export interface ProtectiveOrder {
  readonly clientOrderId: string;
  /** `null` while the placement is in flight. */
  readonly txid: string | null;
  readonly pair: string;
  readonly role: OrderRole;
  readonly side: Side;
  readonly orderType: string;
  readonly quantity: Decimal;
  readonly stopPrice: Decimal | null;
}

/** What the handler holds on a pair: fills of its entries net of its exits, and the orders protecting it. */
export interface Position {
  /** The pair's canonical key, e.g. `XXBTZUSD`. */
  readonly pair: string;
  /** `buy` when the fills bought more than they sold, `sell` the other way round, `null` when flat. */
  readonly side: Side | null;
  /** Absolute net filled quantity. */
  readonly quantity: Decimal;
  /** Protective and exit orders being placed or resting (left resting on the exchange after `stop()`). */
  readonly protectiveOrders: readonly ProtectiveOrder[];
}

const ZERO = new Decimal(0);

/** One fill of one of the handler's orders, as the registry hears of it. */
export interface Fill {
  readonly pair: string;
  readonly side: Side;
  readonly quantity: Decimal;
  /** The order's client order id (its txid when it has none). */
  readonly orderKey: string;
}

/**
 * What a close found on its pair when it started, and owns: the pair's net then, the protective orders listed
 * then (resting or being placed), and the entries working then (their fills from then on are the close's too).
 * Whatever arrives after it (new entries, their fills and stops) belongs to its own entry.
 */
export interface CloseSnapshot {
  readonly pair: string;
  /** Signed net quantity when the close started (positive: long). */
  readonly held: Decimal;
  readonly protective: readonly ProtectiveOrder[];
  /** Working entries, by txid. */
  readonly entries: readonly string[];
  /**
   * The stop-losses those entries asked for (exit side, trigger). An entry the close cancels gets no stop of its
   * own (the close takes what it filled), so what the close puts back on a remainder it did not sell may have
   * only these to take its trigger from.
   */
  readonly entryStops: readonly EntryStop[];
  /** Order keys of the protective orders and entries: their later fills change what the close holds. */
  readonly orderKeys: ReadonlySet<string>;
}

/** The stop-loss an entry asked for: the side that exits it and its trigger. */
export interface EntryStop {
  readonly side: Side;
  readonly stopPrice: Decimal;
}

/** A fill's effect on a net position: buys add, sells take away. */
export const signedQuantity = (side: Side, quantity: Decimal): Decimal => (side === 'buy' ? quantity : quantity.neg());

/**
 * The positions registry of one handler run: what each pair holds from the handler's own fills, which
 * protective orders guard it, and close requests. Close-position reads it; protections listen to it; the CLI
 * prints it. Changes are announced on one BehaviorSubject so a listener that arrives late still sees the state.
 */
export class PositionBook {
  private readonly netByPair = new Map<string, Decimal>();
  private readonly protective = new Map<string, ProtectiveOrder>();
  /** Protective orders whose cancel the exchange answered as done: they can no longer fill, though still followed. */
  private readonly cancelConfirmed = new Set<string>();
  /** Protective orders whose placement ended with their state unproven: they may rest, and no cancel can reach them. */
  private readonly stateUnknown = new Set<string>();
  /** Entry orders accepted and still followed (working), by txid: their pair and order key. */
  private readonly workingEntries = new Map<string, { readonly pair: string; readonly orderKey: string; readonly stop: EntryStop | null }>();
  private readonly fillEvents$ = new Subject<Fill>();
  /** Every fill of every order from now on (not replayed): a close folds those of the orders it owns. */
  readonly fills$: Observable<Fill> = this.fillEvents$.asObservable();
  private readonly closeEpochs = new Map<string, number>();
  private readonly changes$ = new BehaviorSubject<number>(0);
  /**
   * Close requests, per pair: what every working entry and protection of the pair listens to. Kept apart from
   * `changes$` so that a fill or a new working entry (thousands per tick) wakes none of them.
   */
  private readonly closeRequests = new Map<string, Subject<void>>();
  /** Cancels withdrawn by closes that gave up (`withdrawCloseCancels`). */
  private readonly withdrawals$ = new Subject<{ readonly clientOrderIds: ReadonlySet<string>; readonly epoch: number }>();

  /** A fill of any order: buys add to the pair's net quantity, sells take from it. */
  applyFill(pair: string, side: Side, quantity: Decimal, orderKey = ''): void {
    this.netByPair.set(pair, this.net(pair).add(signedQuantity(side, quantity)));
    this.fillEvents$.next({ pair, side, quantity, orderKey });
    this.changed();
  }

  /** Signed net quantity of a pair (positive: long). */
  net(pair: string): Decimal {
    return this.netByPair.get(pair) ?? ZERO;
  }

  addProtective(order: ProtectiveOrder): void {
    this.protective.set(order.clientOrderId, order);
    this.changed();
  }

  /** The protective order was accepted under this txid. */
  placedProtective(clientOrderId: string, txid: string): void {
    const order = this.protective.get(clientOrderId);
    if (!order) return;
    this.protective.set(clientOrderId, { ...order, txid });
    this.changed();
  }

  /** The protective order reached a final state (or was never placed). */
  removeProtective(clientOrderId: string): void {
    this.cancelConfirmed.delete(clientOrderId);
    this.stateUnknown.delete(clientOrderId);
    if (this.protective.delete(clientOrderId)) this.changed();
  }

  /** The order's placement ended with its state unproven: it stays listed (it may rest), but nothing more will happen to it. */
  markStateUnknown(clientOrderId: string): void {
    if (!this.protective.has(clientOrderId)) return;
    this.stateUnknown.add(clientOrderId);
    this.changed();
  }

  /**
   * Emits once (and completes) when none of the snapshot's protective orders that may still fill is being placed
   * any more (each has a txid, so its cancel can be sent, or its state is known to be unknown): from then on, what
   * a close waits for is cancels, which it bounds in time; a placement under way is not a cancel that failed.
   */
  placementsEnded$(snapshot: CloseSnapshot): Observable<void> {
    return this.changes$.pipe(
      filter(() => this.stillProtecting(snapshot).every((order) => this.protective.get(order.clientOrderId)?.txid != null || this.stateUnknown.has(order.clientOrderId))),
      take(1),
      map(() => undefined),
    );
  }

  /**
   * The exchange answered the order's cancel as done (not pending): a resting trigger order cancelled before it
   * triggered has filled nothing and can fill nothing more, so a close need not wait for the monitor to see it.
   * It stays listed (and followed) until its final state is seen.
   */
  confirmCancelled(clientOrderId: string): void {
    if (!this.protective.has(clientOrderId) || this.cancelConfirmed.has(clientOrderId)) return;
    this.cancelConfirmed.add(clientOrderId);
    this.changed();
  }

  protectiveOn(pair: string): readonly ProtectiveOrder[] {
    return [...this.protective.values()].filter((order) => order.pair === pair);
  }

  /**
   * An accepted entry is followed: a close of its pair cancels it and waits for its final state. `stop` is the
   * stop-loss it asked for (a close that cancels it protects what it does not sell of its fills at that trigger).
   */
  addWorkingEntry(txid: string, pair: string, orderKey: string = txid, stop: EntryStop | null = null): void {
    this.workingEntries.set(txid, { pair, orderKey, stop });
    this.changed();
  }

  /** The entry reached its final state (or is no longer followed). */
  removeWorkingEntry(txid: string): void {
    if (this.workingEntries.delete(txid)) this.changed();
  }

  /** Txids of the pair's working entries. */
  workingEntriesOn(pair: string): readonly string[] {
    return [...this.workingEntries].filter(([, entry]) => entry.pair === pair).map(([txid]) => txid);
  }

  /** What a close starting now on `pair` owns (see `CloseSnapshot`). */
  snapshotForClose(pair: string): CloseSnapshot {
    const protective = this.protectiveOn(pair);
    const entries = this.workingEntriesOn(pair);
    const orderKeys = new Set<string>([
      ...protective.map((order) => order.clientOrderId),
      ...entries.map((txid) => this.workingEntries.get(txid)?.orderKey ?? txid),
    ]);
    const entryStops = entries.flatMap((txid) => {
      const stop = this.workingEntries.get(txid)?.stop;
      return stop ? [stop] : [];
    });
    return { pair, held: this.net(pair), protective, entries, entryStops, orderKeys };
  }

  /**
   * The snapshot's protective orders that may still fill: listed, and their cancel not confirmed by its answer.
   */
  stillProtecting(snapshot: CloseSnapshot): readonly ProtectiveOrder[] {
    return snapshot.protective.filter((order) => this.protective.has(order.clientOrderId) && !this.cancelConfirmed.has(order.clientOrderId));
  }

  /**
   * Emits once (and completes) when none of the snapshot's protective orders can still fill (final, never placed,
   * or cancel confirmed) and none of its entries is still working: what a close waits for before it sells. Orders
   * that arrived after the snapshot are not waited for.
   */
  settledForClose$(snapshot: CloseSnapshot): Observable<void> {
    return this.changes$.pipe(
      filter(() => this.stillProtecting(snapshot).length === 0 && snapshot.entries.every((txid) => !this.workingEntries.has(txid))),
      take(1),
      map(() => undefined),
    );
  }

  /** How many close requests the pair has seen; a protection remembers it when it starts. */
  closeEpoch(pair: string): number {
    return this.closeEpochs.get(pair) ?? 0;
  }

  /** A close-position command for the pair: its protections cancel their orders and end their watches. */
  requestClose(pair: string): void {
    this.closeEpochs.set(pair, this.closeEpoch(pair) + 1);
    this.closeRequests.get(pair)?.next();
    this.changed();
  }

  /**
   * Emits once (and completes) when a close of the pair is requested after epoch `since`, also if that
   * happened before subscribing.
   */
  closeRequested$(pair: string, since: number): Observable<void> {
    return defer(() => {
      if (this.closeEpoch(pair) > since) return of(undefined);
      let requests = this.closeRequests.get(pair);
      if (!requests) {
        requests = new Subject<void>();
        this.closeRequests.set(pair, requests);
      }
      return requests.pipe(take(1));
    });
  }

  /**
   * A close that gave up withdraws its cancels of these protective orders (no further attempt; see `followOrder`'s
   * `cancelWithdrawn$`): each order's watch gets `epoch`, after which a close of the pair cancels it again.
   */
  withdrawCloseCancels(clientOrderIds: readonly string[], epoch: number): void {
    this.withdrawals$.next({ clientOrderIds: new Set(clientOrderIds), epoch });
  }

  /** The epoch of every close that withdraws its cancel of this order from now on (not replayed). */
  closeCancelWithdrawn$(clientOrderId: string): Observable<number> {
    return this.withdrawals$.pipe(filter((withdrawal) => withdrawal.clientOrderIds.has(clientOrderId)), map((withdrawal) => withdrawal.epoch));
  }

  /** Every pair with a non-zero net quantity or a protective order, sorted by pair. */
  positions(): readonly Position[] {
    const pairs = new Set<string>([...this.netByPair.keys(), ...[...this.protective.values()].map((order) => order.pair)]);
    return [...pairs]
      .sort()
      .map((pair): Position => {
        const net = this.net(pair);
        return {
          pair,
          side: net.isZero() ? null : net.gt(0) ? 'buy' : 'sell',
          quantity: net.abs(),
          protectiveOrders: this.protectiveOn(pair),
        };
      })
      .filter((position) => !position.quantity.isZero() || position.protectiveOrders.length > 0);
  }

  private changed(): void {
    this.changes$.next(this.changes$.value + 1);
  }
}
