import { cpus, platform, release, totalmem } from 'node:os';

/** Where the figures were measured, printed above them: figures without their machine mean little. */
export interface Machine {
  readonly date: string;
  readonly node: string;
  readonly v8: string;
  readonly os: string;
  readonly cores: number;
  readonly cpu: string;
  readonly memoryGiB: number;
}

export function describeMachine(): Machine {
  const cores = cpus();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    node: process.version,
    v8: process.versions.v8,
    os: `${platform()} ${release()}`,
    cores: cores.length,
    cpu: cores[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  };
}

export function machineLines(machine: Machine): string[] {
  return [
    `date:    ${machine.date}`,
    `node:    ${machine.node} (V8 ${machine.v8})`,
    `machine: ${machine.cores} cores, ${machine.cpu}, ${machine.memoryGiB} GiB, ${machine.os}`,
  ];
}
