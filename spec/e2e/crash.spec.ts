import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type CompiledCli, compileCli } from './support/crash-child';
import { type KillPlan } from './support/crash-run';
import { type CrashOutcome, runScenario } from './support/crash-scenario';

let cli: CompiledCli;
beforeAll(() => {
  cli = compileCli();
});
afterAll(() => cli.remove());

const plans: KillPlan[] = [{ name: 'no crash (the checks hold without one)', kills: [] }];

describe.each(plans)('$name', (plan) => {
  let outcome: CrashOutcome;
  beforeAll(async () => {
    outcome = await runScenario({ cli, plan, deadlineMs: 8000, seed: 7 });
  }, 60000);

  it('runs the scenario to its end', () => {
    expect(outcome.stall).toBeNull();
    console.log(outcome.elapsedMs, outcome.orders.map((o) => `${o.side} ${o.orderType} ${o.volume.toFixed()} ${o.status} ${o.volumeExecuted.toFixed()} ${o.clOrdId}`));
  });
});
