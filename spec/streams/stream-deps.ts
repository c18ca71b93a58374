import { NEVER, type Observable } from 'rxjs';
import { type TestScheduler } from 'rxjs/testing';
import { krakenCostModel } from '../../src/kraken/budget';
import { type RateBudget } from '../../src/model/budget';
import { type ExecutionConfig } from '../../src/model/config';
import { isExchangeError } from '../../src/model/errors';
import { type ExchangePort } from '../../src/model/port';
import { CircuitBreaker } from '../../src/operators/circuit-breaker';
import { RateGate } from '../../src/operators/rate-limit';
import { type ExchangeDeps, type Logger, type StreamDeps, type StreamTuning } from '../../src/streams/deps';
import { createOrderMonitor } from '../../src/streams/order-monitor';
import { PositionBook } from '../../src/streams/positions';
import { createReportBuilder } from '../../src/streams/reports';
import { OpenBudget, config as defaultConfig, sequentialIds } from './fake-exchange';

export const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export const tuning: StreamTuning = { openOrdersLagMs: 2_000, monitorReserveUnits: 2, protectionCancelTimeoutMs: 30_000 };

export interface DepsOptions {
  readonly budget?: RateBudget;
  readonly config?: ExecutionConfig;
  readonly stopping$?: Observable<unknown>;
}

/** One run's dependencies as the handler builds them, over a fake port, in virtual time. */
export function exchangeDeps(port: ExchangePort, scheduler: TestScheduler, options: DepsOptions = {}): ExchangeDeps {
  const config = options.config ?? defaultConfig;
  const budget = options.budget ?? new OpenBudget();
  const newId = sequentialIds();
  return {
    config,
    port,
    budget,
    costs: krakenCostModel,
    gate: new RateGate(budget, scheduler),
    breaker: new CircuitBreaker(
      {
        failureThreshold: config.breaker.failureThreshold,
        cooldownMs: config.breaker.cooldownMs,
        counts: (error) => !isExchangeError(error) || error.kind !== 'refused',
        opensAtOnce: (error) => isExchangeError(error) && error.kind === 'auth',
      },
      scheduler,
    ),
    scheduler,
    newId,
    random: () => 0.5,
    log: quiet,
    report: createReportBuilder(sequentialIds('report'), scheduler),
    tuning,
  };
}

export function streamDeps(port: ExchangePort, scheduler: TestScheduler, options: DepsOptions = {}): StreamDeps {
  const exchange = exchangeDeps(port, scheduler, options);
  return { ...exchange, monitor: createOrderMonitor(exchange), positions: new PositionBook(), stopping$: options.stopping$ ?? NEVER };
}
