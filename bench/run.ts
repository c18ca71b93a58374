import { compareDesigns, callsPerTickTable, loopbackTable, starterTierTable } from './monitor-calls';
import { describeMachine, machineLines } from './machine';
import { printTable } from './table';

async function main(): Promise<void> {
  process.stdout.write(`${machineLines(describeMachine()).join('\n')}\n\n`);
  const comparisons = await compareDesigns([1, 10, 100, 1000], (line) => process.stderr.write(`${line}\n`));
  printTable(callsPerTickTable(comparisons));
  printTable(starterTierTable(comparisons));
  printTable(loopbackTable(comparisons));
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
