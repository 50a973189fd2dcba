// What the benchmark reads from /proc: CPU time per task of a running child, its resident memory,
// the CPU time of children already reaped, and how busy the whole machine was.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { USER_HZ } from '../../dist/fingerprint/index.js';
import { NS_PER_S } from '../../dist/units.js';

const NS_PER_TICK = NS_PER_S / USER_HZ;

/**
 * The fields of a /proc/.../stat line after the command name, which may itself hold spaces and
 * parentheses: fields[0] is field 3 of proc(5) (state), so field N is fields[N - 3].
 * @param {string} text
 */
function statFields(text) {
  return text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
}

/** @param {string[]} fields @param {number} field proc(5)'s 1-based field number */
function numberField(fields, field) {
  return Number(fields[field - 3]);
}

/**
 * @typedef {object} TaskTimes
 * @property {number} cpuNs user + system time of the task (10 ms steps: USER_HZ ticks)
 * @property {boolean} realtime whether it ran under a real-time priority (rt_priority > 0): the measuring threads
 * @property {number} startedNs when it was created, in ns since boot (10 ms steps)
 */

/**
 * Every task (thread) of `pid` now. Threads that end while being read are left out; an ended process
 * gives an empty map.
 * @param {number} pid
 * @returns {Map<number, TaskTimes>}
 */
export function readTasks(pid) {
  /** @type {Map<number, TaskTimes>} */
  const tasks = new Map();
  let tids;
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return tasks;
  }
  for (const tid of tids) {
    try {
      const fields = statFields(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      tasks.set(Number(tid), {
        cpuNs: (numberField(fields, 14) + numberField(fields, 15)) * NS_PER_TICK,
        realtime: numberField(fields, 40) > 0,
        startedNs: numberField(fields, 22) * NS_PER_TICK,
      });
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return tasks;
}

/**
 * Resident memory of `pid` now and its peak so far, in KiB; null once the process is gone.
 * @param {number} pid
 * @returns {{ rssKb: number, peakKb: number } | null}
 */
export function readResidentKb(pid) {
  let status;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const rss = /^VmRSS:\s*(\d+) kB$/m.exec(status);
  const peak = /^VmHWM:\s*(\d+) kB$/m.exec(status);
  // A zombie has no memory lines left.
  return rss && peak ? { rssKb: Number(rss[1]), peakKb: Number(peak[1]) } : null;
}

/**
 * User + system time of this process's children that have ended and been waited for (cutime + cstime,
 * what getrusage(RUSAGE_CHILDREN) counts). The difference across one child's life is that child's
 * whole CPU time, every thread included, up to its exit.
 */
export function reapedChildrenCpuNs() {
  const fields = statFields(readFileSync('/proc/self/stat', 'utf8'));
  return (numberField(fields, 16) + numberField(fields, 17)) * NS_PER_TICK;
}

/**
 * Files where the scheduler's own accounting of every task's CPU time is summed for the whole machine
 * (the root cgroup), in order of preference, and the unit of each.
 */
const TASK_TIME_SOURCES = [
  { file: '/sys/fs/cgroup/cpu.stat', pattern: /^usage_usec (\d+)$/m, nsPerUnit: 1_000 },
  { file: '/sys/fs/cgroup/cpuacct/cpuacct.usage', pattern: /^(\d+)$/m, nsPerUnit: 1 },
  { file: '/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage', pattern: /^(\d+)$/m, nsPerUnit: 1 },
];

/**
 * CPU time the whole machine spent running tasks, summed over CPUs, and the time the hypervisor
 * stole. The tasks' time comes from the root cgroup where there is one: the same exact accounting
 * as this process's own and its children's times, which are subtracted from it. /proc/stat's
 * user + nice + system is the fallback: it samples at each tick, and short wake-ups like a 50us
 * loop's slip between ticks (on this guest it counted 25% less than cpuacct.usage over its uptime),
 * so "other processes" read low from it. Steal is only in /proc/stat.
 * @returns {{ busyNs: number, busySource: string, stealNs: number }}
 */
export function readMachineCpu() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((text) => text.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat has no "cpu" line');
  // cpu  user nice system idle iowait irq softirq steal ...
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const at = (/** @type {number} */ index) => ticks[index] ?? 0;
  const stealNs = at(7) * NS_PER_TICK;
  for (const { file, pattern, nsPerUnit } of TASK_TIME_SOURCES) {
    const match = existsSync(file) ? pattern.exec(readFileSync(file, 'utf8')) : null;
    if (match) return { busyNs: Number(match[1]) * nsPerUnit, busySource: file, stealNs };
  }
  return { busyNs: (at(0) + at(1) + at(2)) * NS_PER_TICK, busySource: '/proc/stat (tick-sampled: reads low)', stealNs };
}
