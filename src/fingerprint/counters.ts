// Per-CPU counters read before and after a run, so a result can say what else happened on its CPUs:
// time the hypervisor stole, interrupts handled, time tasks spent waiting for the CPU.
import { SystemFiles } from './field.js';
import { NS_PER_S } from '../units.js';

/**
 * /proc/stat counts time in USER_HZ ticks. USER_HZ is part of the ABI and is 100 on every architecture
 * Linux runs on today (alpha, at 1024, is the exception), whatever CONFIG_HZ is; `getconf CLK_TCK` says
 * the same, but would cost a process per reading.
 */
export const USER_HZ = 100;
const NS_PER_USER_TICK = NS_PER_S / USER_HZ;

export interface CpuCounterValues {
  /** Time this (v)CPU wanted to run while the hypervisor ran something else (/proc/stat steal; 10ms steps). */
  stealNs: number | null;
  /** Interrupts handled on this CPU: its column of /proc/interrupts summed over every row (device IRQs, LOC, RES, ...). */
  interrupts: number | null;
  /** Time tasks waited on this CPU's run queue before running (/proc/schedstat run_delay; needs CONFIG_SCHEDSTATS). */
  runQueueWaitNs: number | null;
  /**
   * Calls of schedule() on this CPU (/proc/schedstat). Not context switches: schedule() may keep the task
   * that was running. The kernel keeps no per-CPU count of switches; this is the nearest, and it is counted
   * only while kernel.sched_schedstats = 1.
   */
  scheduleCalls: number | null;
}

export type CpuCounterName = keyof CpuCounterValues;

export interface CpuCounters {
  /** When the reading was taken, on the monotonic clock: a difference knows its length. */
  takenAtNs: number;
  /** CPU -> counters; every requested CPU has an entry, with nulls where its counters could not be read. */
  perCpu: Record<number, CpuCounterValues>;
  /** Context switches on all CPUs together (/proc/stat ctxt). */
  systemContextSwitches: number | null;
  /** Counter -> why it is null. */
  unavailable: Partial<Record<CpuCounterName | 'systemContextSwitches', string>>;
}

export interface CpuCountersDelta {
  elapsedNs: number;
  /** CPU -> what happened during the run; null where either reading lacks the counter or it went backwards (CPU hot-unplugged). */
  perCpu: Record<number, CpuCounterValues>;
  systemContextSwitches: number | null;
  unavailable: Partial<Record<CpuCounterName | 'systemContextSwitches', string>>;
}

interface ProcStat {
  stealTicks: Map<number, number>;
  contextSwitches: number | null;
}

export function parseProcStat(text: string): ProcStat {
  const stealTicks = new Map<number, number>();
  let contextSwitches: number | null = null;
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    const cpu = /^cpu(\d+)$/.exec(words[0] ?? '');
    // cpuN user nice system idle iowait irq softirq steal guest guest_nice
    if (cpu && words[8] !== undefined) stealTicks.set(Number(cpu[1]), Number(words[8]));
    if (words[0] === 'ctxt' && words[1] !== undefined) contextSwitches = Number(words[1]);
  }
  return { stealTicks, contextSwitches };
}

/** CPU -> interrupts. Columns follow the header (offline CPUs have none); ERR and MIS are system-wide single counts. */
export function parseInterrupts(text: string): Map<number, number> {
  const lines = text.split('\n');
  const columns = (lines[0] ?? '').trim().split(/\s+/).map((name) => Number(/^CPU(\d+)$/.exec(name)?.[1] ?? NaN));
  const totals = new Map<number, number>();
  if (columns.length === 0 || columns.some(Number.isNaN)) return totals;
  for (const cpu of columns) totals.set(cpu, 0);
  for (const line of lines.slice(1)) {
    const words = line.trim().split(/\s+/);
    if (words[0] === 'ERR:' || words[0] === 'MIS:') continue;
    const counts = words.slice(1, 1 + columns.length);
    if (counts.length < columns.length || !counts.every((word) => /^\d+$/.test(word))) continue;
    counts.forEach((count, index) => totals.set(columns[index]!, totals.get(columns[index]!)! + Number(count)));
  }
  return totals;
}

interface SchedStat {
  runDelayNs: Map<number, number>;
  scheduleCalls: Map<number, number>;
}

/** Versions 15 to 17 share the cpuN line: yld_count, 0, sched_count, sched_goidle, ttwu_count, ttwu_local, rq_cpu_time, run_delay, pcount. */
export function parseSchedStat(text: string): SchedStat | string {
  const version = Number(/^version (\d+)$/m.exec(text)?.[1] ?? NaN);
  if (!(version >= 15 && version <= 17)) return `schedstat version ${Number.isNaN(version) ? 'unknown' : version} is not one this reader knows (15-17)`;
  const runDelayNs = new Map<number, number>();
  const scheduleCalls = new Map<number, number>();
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    const cpu = /^cpu(\d+)$/.exec(words[0] ?? '');
    if (!cpu || words.length < 10) continue;
    scheduleCalls.set(Number(cpu[1]), Number(words[3]));
    runDelayNs.set(Number(cpu[1]), Number(words[8]));
  }
  return { runDelayNs, scheduleCalls };
}

/** Reads the counters of `cpus` now. Never throws: a counter that cannot be read is null, with the reason in `unavailable`. */
export function readCpuCounters(cpus: readonly number[], options: { root?: string } = {}): CpuCounters {
  const files = new SystemFiles(options.root ?? '/');
  const takenAtNs = Number(process.hrtime.bigint());
  const unavailable: CpuCounters['unavailable'] = {};

  const statText = files.text('/proc/stat');
  const stat = statText.value === null ? null : parseProcStat(statText.value);
  if (statText.value === null) unavailable.stealNs = unavailable.systemContextSwitches = statText.reason;

  const interruptsText = files.text('/proc/interrupts');
  const interrupts = interruptsText.value === null ? null : parseInterrupts(interruptsText.value);
  if (interruptsText.value === null) unavailable.interrupts = interruptsText.reason;

  const schedText = files.text('/proc/schedstat');
  const sched = schedText.value === null ? schedText.reason : parseSchedStat(schedText.value);
  if (typeof sched === 'string') unavailable.runQueueWaitNs = unavailable.scheduleCalls = sched;
  const schedstatsOn = files.trimmed('/proc/sys/kernel/sched_schedstats').value === '1';
  if (typeof sched !== 'string' && !schedstatsOn) unavailable.scheduleCalls = 'kernel.sched_schedstats is not 1, so the kernel does not count schedule() calls';

  const perCpu: Record<number, CpuCounterValues> = {};
  for (const cpu of cpus) {
    const steal = stat?.stealTicks.get(cpu);
    perCpu[cpu] = {
      stealNs: steal === undefined || Number.isNaN(steal) ? null : steal * NS_PER_USER_TICK,
      interrupts: interrupts?.get(cpu) ?? null,
      runQueueWaitNs: typeof sched === 'string' ? null : (sched.runDelayNs.get(cpu) ?? null),
      scheduleCalls: typeof sched === 'string' || !schedstatsOn ? null : (sched.scheduleCalls.get(cpu) ?? null),
    };
  }
  return { takenAtNs, perCpu, systemContextSwitches: stat?.contextSwitches ?? null, unavailable };
}

function difference(before: number | null | undefined, after: number | null | undefined): number | null {
  if (before === null || before === undefined || after === null || after === undefined || after < before) return null;
  return after - before;
}

/** What happened between two readings, per CPU of the later one. */
export function diffCpuCounters(before: CpuCounters, after: CpuCounters): CpuCountersDelta {
  const perCpu: Record<number, CpuCounterValues> = {};
  for (const key of Object.keys(after.perCpu)) {
    const cpu = Number(key);
    const earlier = before.perCpu[cpu];
    const later = after.perCpu[cpu]!;
    perCpu[cpu] = {
      stealNs: difference(earlier?.stealNs, later.stealNs),
      interrupts: difference(earlier?.interrupts, later.interrupts),
      runQueueWaitNs: difference(earlier?.runQueueWaitNs, later.runQueueWaitNs),
      scheduleCalls: difference(earlier?.scheduleCalls, later.scheduleCalls),
    };
  }
  return {
    elapsedNs: after.takenAtNs - before.takenAtNs,
    perCpu,
    systemContextSwitches: difference(before.systemContextSwitches, after.systemContextSwitches),
    unavailable: { ...before.unavailable, ...after.unavailable },
  };
}
