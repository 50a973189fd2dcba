// Small readers of /proc and /sys that the probe's validation needs.
import { readdirSync, readFileSync } from 'node:fs';
import { parseCpuList } from '../units.js';

function readCpuList(path: string): number[] | null {
  try {
    return parseCpuList(path, readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

/** CPUs that are online and in this process's affinity mask, which is where threads may be pinned. */
export function usableCpus(): { online: number[]; allowed: number[] } {
  const online = readCpuList('/sys/devices/system/cpu/online') ?? [0];
  let allowed = online;
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
    if (line) allowed = parseCpuList('Cpus_allowed_list', line[1]!).filter((cpu) => online.includes(cpu));
  } catch {
    // Not Linux: the probe refuses to start anyway.
  }
  return { online, allowed };
}

/** The shortest SCHED_DEADLINE period the kernel admits, in ns (100us unless configured). */
export function deadlinePeriodMinNs(): number {
  try {
    return Number(readFileSync('/proc/sys/kernel/sched_deadline_period_min_us', 'utf8').trim()) * 1_000;
  } catch {
    return 100_000;
  }
}

/**
 * The share of each CPU's time that SCHED_DEADLINE (with SCHED_FIFO/RR) may reserve
 * (kernel.sched_rt_runtime_us / kernel.sched_rt_period_us, 0.95 by default); null when unlimited (-1)
 * or unreadable.
 */
export function deadlineBandwidthPerCpu(): number | null {
  try {
    const runtimeUs = Number(readFileSync('/proc/sys/kernel/sched_rt_runtime_us', 'utf8').trim());
    const periodUs = Number(readFileSync('/proc/sys/kernel/sched_rt_period_us', 'utf8').trim());
    return runtimeUs < 0 || !(periodUs > 0) ? null : runtimeUs / periodUs;
  } catch {
    return null;
  }
}

/** The TIDs of this process's threads right now. */
export function threadIds(): number[] {
  return readdirSync('/proc/self/task').map(Number);
}

/** CPUs configured, online or not (sysconf(_SC_NPROCESSORS_CONF)): the cpuN folders in sysfs. */
export function configuredCpuCount(): number {
  try {
    return readdirSync('/sys/devices/system/cpu').filter((name) => /^cpu\d+$/.test(name)).length || 1;
  } catch {
    return 1;
  }
}

/** Whether the kernel has NUMA (libnuma's numa_available()): its node folders exist. */
export function numaAvailable(): boolean {
  try {
    return readdirSync('/sys/devices/system/node').some((name) => /^node\d+$/.test(name));
  } catch {
    return false;
  }
}

/** The NUMA node of a CPU (the nodeN link in its sysfs folder); -1 when unknown. */
export function numaNodeOfCpu(cpu: number): number {
  try {
    const node = readdirSync(`/sys/devices/system/cpu/cpu${cpu}`).find((name) => /^node\d+$/.test(name));
    return node === undefined ? -1 : Number(node.slice(4));
  } catch {
    return -1;
  }
}
