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

/**
 * The positions registry of one handler run: what each pair holds from the handler's own fills, which
 * protective orders guard it, and close requests. Close-position reads it; protections listen to it; the CLI
 * prints it. Changes are announced on one BehaviorSubject so a listener that arrives late still sees the state.
 */
export class PositionBook {
  private readonly netByPair = new Map<string, Decimal>();
  private readonly protective = new Map<string, ProtectiveOrder>();
  /** Entry orders accepted and still followed (working), by txid: their pair. */
  private readonly workingEntries = new Map<string, string>();
  private readonly closeEpochs = new Map<string, number>();
  private readonly changes$ = new BehaviorSubject<number>(0);
  /**
   * Close requests, per pair: what every working entry and protection of the pair listens to. Kept apart from
   * `changes$` so that a fill or a new working entry (thousands per tick) wakes none of them.
   */
  private readonly closeRequests = new Map<string, Subject<void>>();

  /** A fill of any order: buys add to the pair's net quantity, sells take from it. */
  applyFill(pair: string, side: Side, quantity: Decimal): void {
    const net = this.net(pair);
    this.netByPair.set(pair, side === 'buy' ? net.add(quantity) : net.sub(quantity));
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
    if (this.protective.delete(clientOrderId)) this.changed();
  }

  protectiveOn(pair: string): readonly ProtectiveOrder[] {
    return [...this.protective.values()].filter((order) => order.pair === pair);
  }

  /** An accepted entry is followed: a close of its pair cancels it and waits for its final state. */
  addWorkingEntry(txid: string, pair: string): void {
    this.workingEntries.set(txid, pair);
    this.changed();
  }

  /** The entry reached its final state (or is no longer followed). */
  removeWorkingEntry(txid: string): void {
    if (this.workingEntries.delete(txid)) this.changed();
  }

  /** Txids of the pair's working entries. */
  workingEntriesOn(pair: string): readonly string[] {
    return [...this.workingEntries].filter(([, of]) => of === pair).map(([txid]) => txid);
  }

  /**
   * Emits once (and completes) when no protective order of the pair is being placed or resting and none of
   * `entries` (txids) is still working: what a close waits for before it reads the position.
   */
  settledForClose$(pair: string, entries: readonly string[]): Observable<void> {
    return this.changes$.pipe(
      filter(() => this.protectiveOn(pair).length === 0 && entries.every((txid) => !this.workingEntries.has(txid))),
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

  /** Emits once (and completes) when no protective order of the pair is being placed or resting. */
  protectionCleared$(pair: string): Observable<void> {
    return this.changes$.pipe(
      filter(() => this.protectiveOn(pair).length === 0),
      take(1),
      map(() => undefined),
    );
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
