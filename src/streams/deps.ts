import { type Observable, type SchedulerLike } from 'rxjs';
import { type CostModel, type RateBudget } from '../model/budget';
import { type ExecutionConfig } from '../model/config';
import { type ExchangePort } from '../model/port';
import { type CircuitBreaker } from '../operators/circuit-breaker';
import { type RateGate } from '../operators/rate-limit';
import { type OrderMonitor } from './order-monitor';
import { type PositionBook } from './positions';
import { type ReportBuilder } from './reports';

/** Where the handler writes what it is doing (loglevel's logger fits). Never given a secret. */
export interface Logger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** Knobs that are not in `ExecutionConfig` because users should rarely need them. */
export interface StreamTuning {
  /**
   * How long a just-placed order may be missing from OpenOrders before that means anything (Kraken's lag).
   * Also added to a placement's deadline before an empty lookup proves it was never placed.
   */
  readonly openOrdersLagMs: number;
  /** REST units the monitor leaves free for lookups and closes when it paces its tick. */
  readonly monitorReserveUnits: number;
  /** How long a close waits for the pair's protective orders to be confirmed gone before giving up. */
  readonly protectionCancelTimeoutMs: number;
}

/** One handler run's access to the exchange: every call goes through its rate gate and circuit breaker. */
export interface ExchangeDeps {
  readonly config: ExecutionConfig;
  readonly port: ExchangePort;
  readonly budget: RateBudget;
  readonly costs: CostModel;
  readonly gate: RateGate;
  readonly breaker: CircuitBreaker;
  readonly scheduler: SchedulerLike;
  readonly newId: () => string;
  readonly random: () => number;
  readonly log: Logger;
  readonly report: ReportBuilder;
  readonly tuning: StreamTuning;
}

/** Everything the order streams share within one run. */
export interface StreamDeps extends ExchangeDeps {
  readonly monitor: OrderMonitor;
  readonly positions: PositionBook;
  /** Emits (and keeps emitting to late subscribers) once `stop()` was asked for. */
  readonly stopping$: Observable<unknown>;
}
