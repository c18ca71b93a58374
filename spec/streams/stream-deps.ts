import { NEVER, type Observable } from 'rxjs';
import { type TestScheduler } from 'rxjs/testing';
import { krakenCostModel } from '../../src/kraken/budget';
import { type RateBudget } from '../../src/model/budget';
import { type ExecutionConfig } from '../../src/model/config';
import { type ExchangePort } from '../../src/model/port';
import { type ExchangeDeps, type Logger, type StreamDeps, type StreamTuning, createExchangeDeps } from '../../src/streams/deps';
import { createOrderMonitor } from '../../src/streams/order-monitor';
import { PositionBook } from '../../src/streams/positions';
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
  return createExchangeDeps({
    config,
    port,
    budget,
    costs: krakenCostModel,
    scheduler,
    newId,
    newReportId: sequentialIds('report'),
    random: () => 0.5,
    log: quiet,
    tuning,
  });
}

export function streamDeps(port: ExchangePort, scheduler: TestScheduler, options: DepsOptions = {}): StreamDeps {
  const exchange = exchangeDeps(port, scheduler, options);
  return { ...exchange, monitor: createOrderMonitor(exchange), positions: new PositionBook(), stopping$: options.stopping$ ?? NEVER };
}
