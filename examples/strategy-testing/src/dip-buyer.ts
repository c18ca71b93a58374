import { Decimal } from 'decimal.js';
import { type Observable, distinctUntilChanged, filter, map, scan } from 'rxjs';
import { type ClosePositionCommand, type TradeSignal } from 'kraken-rx-execution';

/** The rules of the dip buyer; prices are decimal strings, never floats. */
export interface DipBuyerRules {
  readonly pair: string;
  /** A price at or below this (after one above it) is a dip: one limit buy at that price. */
  readonly buyAtOrBelow: string;
  readonly quantity: string;
  /** The protective stop sits this far below the entry price… */
  readonly stopDistance: string;
  /** …and the take-profit this far above it. */
  readonly takeProfitDistance: string;
  /** What a limit entry has not filled after this long is cancelled (its stop is sized to what filled). */
  readonly entryTimeoutMs: number;
  /** A price below this is a crash: HALT new entries… */
  readonly haltBelow: string;
  /** …until the price is back above this. */
  readonly resumeAbove: string;
  /** A price at or above this closes the position at market. */
  readonly closeAtOrAbove: string;
}

/** What the strategy feeds the execution handler. */
export interface StrategyOutputs {
  readonly signals$: Observable<TradeSignal>;
  readonly halted$: Observable<boolean>;
  readonly commands$: Observable<ClosePositionCommand>;
}

interface Crossing {
  readonly armed: boolean;
  readonly count: number;
  readonly fired: Decimal | null;
}

/** Fires once each time `hit` starts to hold; re-arms when it stops holding. Numbered from 1. */
const crossings = (hit: (price: Decimal) => boolean) =>
  scan<Decimal, Crossing>(
    (state, price) =>
      hit(price)
        ? { armed: false, count: state.armed ? state.count + 1 : state.count, fired: state.armed ? price : null }
        : { armed: true, count: state.count, fired: null },
    { armed: true, count: 0, fired: null },
  );

/**
 * A dip buyer: prices in; entries, HALT and closes out.
 *
 * prices$:   --a----b---c----d--   a: 59000 (a dip), b: 55000 (a crash), c: 61500 (recovered), d: 65000
 *   dipBuyer(prices$, rules)          (buyAtOrBelow 59000, haltBelow 56000, resumeAbove 61000, closeAtOrAbove 65000)
 * signals$:  --s-----------------   s: limit buy at 59000, stop 59000 − stopDistance, take-profit + distance
 * halted$:   --f----t---f--------
 * commands$: ----------------c---   c: close the pair's position
 *
 * Each output completes when `prices$` completes.
 */
export function dipBuyer(prices$: Observable<string>, rules: DipBuyerRules): StrategyOutputs {
  // Not shared: each output subscribes the prices itself, so none can miss one that came before it subscribed.
  const price$ = prices$.pipe(map((price) => new Decimal(price)));
  const signals$ = price$.pipe(
    crossings((price) => price.lte(rules.buyAtOrBelow)),
    filter((state): state is Crossing & { fired: Decimal } => state.fired !== null),
    map(
      ({ fired, count }): TradeSignal => ({
        signalId: `dip-${count}`,
        pair: rules.pair,
        side: 'buy',
        orderType: 'limit',
        quantity: rules.quantity,
        limitPrice: fired.toFixed(),
        stopLoss: fired.minus(rules.stopDistance).toFixed(),
        takeProfit: fired.plus(rules.takeProfitDistance).toFixed(),
        timeoutMs: rules.entryTimeoutMs,
      }),
    ),
  );
  const halted$ = price$.pipe(
    scan((halted, price) => (price.lt(rules.haltBelow) ? true : price.gt(rules.resumeAbove) ? false : halted), false),
    distinctUntilChanged(),
  );
  const commands$ = price$.pipe(
    crossings((price) => price.gte(rules.closeAtOrAbove)),
    filter((state) => state.fired !== null),
    map(({ count }): ClosePositionCommand => ({ commandId: `close-${count}`, pair: rules.pair })),
  );
  return { signals$, halted$, commands$ };
}
