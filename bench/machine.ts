/** The machine a benchmark ran on, so that results can be compared across machines. */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  /** Processors this process may use, as `nproc` prints it. */
  cpuCount: number;
  cpuModel: string;
  totalMemoryBytes: number;
  nodeVersion: string;
  /** `os.type()` and `os.release()`, such as `Linux 6.1.0`. */
  system: string;
  /** 1-minute load average when this was read: other processes competing for the CPUs. */
  loadAverage: number;
}

export function describeMachine(): MachineInfo {
  return {
    cpuCount: os.availableParallelism(),
    cpuModel: readCpuModel(),
    totalMemoryBytes: os.totalmem(),
    nodeVersion: process.version,
    system: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg()[0] ?? 0,
  };
}

/** Returns the first `model name` of /proc/cpuinfo, or what Node reports where that file is missing. */
function readCpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1] !== undefined) {
      return match[1].trim();
    }
  } catch {
    // Not Linux: fall through to os.cpus().
  }
  return os.cpus()[0]?.model ?? 'unknown';
}
