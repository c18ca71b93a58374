import { type Observable, type SchedulerLike } from 'rxjs';
import { type CostModel, type RateBudget } from '../model/budget';
import { type ExecutionConfig } from '../model/config';
import { isExchangeError } from '../model/errors';
import { type ExecutionFeed } from '../model/feed';
import { type Journal, isJournalError } from '../model/journal';
import { type ExchangePort } from '../model/port';
import { CircuitBreaker } from '../operators/circuit-breaker';
import { RateGate } from '../operators/rate-limit';
import { openMemoryJournal } from '../journal/memory';
import { feedThroughGate } from './exchange-call';
import { serialJournal } from './journaling';
import { type PriceReader, createPriceReader } from './last-price';
import { type OrderMonitor } from './order-monitor';
import { type PositionBook } from './positions';
import { type ReportBuilder, createReportBuilder } from './reports';

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
  /**
   * How long a last price read from the ticker is used again (placement checks, take-profit watches) before
   * the next read. Default 1000: about Kraken's public rate of one call a second.
   */
  readonly priceMaxAgeMs?: number;
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
  /** Last prices, one Ticker read per pair shared by everyone who asks (placement, take-profit watches). */
  readonly prices: PriceReader;
  /** The exchange's push feed (orders, fills, prices); used unless `config.feed.mode` is `rest`. */
  readonly feed?: ExecutionFeed;
  /**
   * Where signals, order intents and every transition are written (write-ahead: before anything is sent),
   * its writes one at a time in order (`serialJournal`).
   */
  readonly journal: Journal;
}

/** Everything the order streams share within one run. */
export interface StreamDeps extends ExchangeDeps {
  readonly monitor: OrderMonitor;
  readonly positions: PositionBook;
  /** Emits (and keeps emitting to late subscribers) once `stop()` was asked for. */
  readonly stopping$: Observable<unknown>;
}

/** What a run's exchange access is built from; the gate, breaker and report builder are made from these. */
export interface ExchangeParts {
  readonly config: ExecutionConfig;
  readonly port: ExchangePort;
  readonly budget: RateBudget;
  readonly costs: CostModel;
  readonly scheduler: SchedulerLike;
  readonly newId: () => string;
  /** Report ids; by default `newId`. */
  readonly newReportId?: () => string;
  readonly random: () => number;
  readonly log: Logger;
  readonly tuning: StreamTuning;
  readonly feed?: ExecutionFeed;
  /** Default: a fresh in-memory journal (account `in-memory`) for this run alone. */
  readonly journal?: Journal;
}

/**
 * A run's exchange access: its own rate gate over the budget, its own circuit breaker, its report builder.
 * The one place the breaker's policy is decided, so the handler, its tests and the benchmarks run the same.
 */
export function createExchangeDeps(parts: ExchangeParts): ExchangeDeps {
  const { newReportId, journal, feed, ...rest } = parts;
  const access: Omit<ExchangeDeps, 'prices'> = {
    ...rest,
    journal: serialJournal(journal ?? openMemoryJournal({ account: IN_MEMORY_ACCOUNT })),
    gate: new RateGate(parts.budget, parts.scheduler),
    breaker: new CircuitBreaker(
      {
        failureThreshold: parts.config.breaker.failureThreshold,
        cooldownMs: parts.config.breaker.cooldownMs,
        // A refusal is an answer about the request, not a sign the exchange or the key is in trouble; a journal
        // that could not write the send ahead of it says nothing about the exchange (nothing was sent).
        counts: (error) => !isJournalError(error) && (!isExchangeError(error) || error.kind !== 'refused'),
        // Bad key, permissions, lockout: every further call makes it worse.
        opensAtOnce: (error) => isExchangeError(error) && error.kind === 'auth',
      },
      parts.scheduler,
    ),
    report: createReportBuilder(newReportId ?? parts.newId, parts.scheduler),
  };
  // The reader calls through this same access (its gate and breaker); it is built once access exists.
  const prices: PriceReader = { last: (pair, lane) => reader.last(pair, lane) };
  const direct: ExchangeDeps = { ...access, prices };
  // The feed's own token calls go through this same access, like every other private call.
  const deps: ExchangeDeps = feed ? { ...direct, feed: feedThroughGate(direct, feed) } : direct;
  const reader = createPriceReader(deps, parts.tuning.priceMaxAgeMs ?? DEFAULT_PRICE_MAX_AGE_MS);
  return deps;
}

const DEFAULT_PRICE_MAX_AGE_MS = 1000;

/** The account of the default in-memory journal: nothing outlives the run, so no key fingerprint is needed. */
export const IN_MEMORY_ACCOUNT = 'in-memory';
