/**
 * CPU per process from /proc/<pid>/stat (utime + stime, in clock ticks), read before and after a
 * step: the step's CPU seconds per process, to divide by the messages it delivered. Linux only.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** A row of the CPU table: one process, or several summed (nginx's master and workers). */
export interface ProcessGroup {
  label: string;
  pids: () => number[];
}

export type CpuSample = Map<string, Map<number, number>>;

let ticksPerSecond: number | undefined;

/** USER_HZ (`getconf CLK_TCK`, 100 on Linux almost always). */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const value = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim());
    ticksPerSecond = Number.isInteger(value) && value > 0 ? value : 100;
  }
  return ticksPerSecond;
}

/** Fields of /proc/<pid>/stat after `comm` (which may hold spaces and parentheses): [state, ppid, ...]. */
export function statFields(stat: string): string[] {
  return stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
}

/** utime + stime of a stat line, in clock ticks (fields 14 and 15 of proc(5)). */
export function cpuTicksOf(stat: string): number {
  const fields = statFields(stat);
  return Number(fields[11]) + Number(fields[12]);
}

function readStat(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  return readStat(pid) !== undefined;
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** Processes whose parent is `ppid` and whose comm is `comm` (when given). */
export function childrenOf(ppid: number, comm?: string): number[] {
  return allPids().filter((pid) => {
    const stat = readStat(pid);
    if (stat === undefined) return false;
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    return statFields(stat)[1] === String(ppid) && (comm === undefined || name === comm);
  });
}

/** Processes whose command line contains every one of `parts`. */
export function findByCommandLine(...parts: string[]): number[] {
  return allPids().filter((pid) => {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      return parts.every((part) => cmdline.includes(part));
    } catch {
      return false;
    }
  });
}

/** The pid in a pid file, if that process is alive. */
export function pidFromFile(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function sampleCpu(groups: readonly ProcessGroup[]): CpuSample {
  const sample: CpuSample = new Map();
  for (const group of groups) {
    const ticks = new Map<number, number>();
    for (const pid of group.pids()) {
      const stat = readStat(pid);
      if (stat !== undefined) ticks.set(pid, cpuTicksOf(stat));
    }
    sample.set(group.label, ticks);
  }
  return sample;
}

/**
 * CPU seconds per group between two samples; a process is counted only if it is in both (one
 * that started or ended in between has no complete figure); NaN for a group with none.
 */
export function cpuSeconds(before: CpuSample, after: CpuSample): Map<string, number> {
  const seconds = new Map<string, number>();
  for (const [label, end] of after) {
    const start = before.get(label) ?? new Map<number, number>();
    let ticks = 0;
    let counted = 0;
    for (const [pid, value] of end) {
      const first = start.get(pid);
      if (first === undefined) continue;
      ticks += value - first;
      counted += 1;
    }
    seconds.set(label, counted === 0 ? Number.NaN : ticks / clockTicks());
  }
  return seconds;
}
