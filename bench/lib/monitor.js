// Runs one measuring process to its end while watching it from /proc: the CPU time of each of its
// threads, its resident memory over time, and (at exit) its whole CPU time.
import { spawn } from 'node:child_process';
import { readResidentKb, readTasks, reapedChildrenCpuNs } from './proc.js';

/**
 * @typedef {object} MonitoredRun
 * @property {number} wallNs
 * @property {number} cpuNs the whole process's user + system time at exit, every thread included
 * @property {number} realtimeCpuNs CPU time of its real-time threads (the measuring threads), as last seen alive
 * @property {number[]} realtimeTids
 * @property {number} realtimeStartDelayNs from the process's start to its first real-time thread's creation (10 ms steps)
 * @property {{ atNs: number, rssKb: number }[]} memory resident memory at each sample, from the start
 * @property {number} peakRssKb
 */

/** Grace given past the expected run time before the process is stopped as hung. */
const HANG_GRACE_MS = 60_000;
const KILL_AFTER_TERM_MS = 5_000;
const STDERR_KEPT = 4_000;

/**
 * Runs `argv` and samples it every `sampleMs`. The measuring threads exit before the process, so
 * their CPU time is the last value read while they lived: at most one sample period short.
 * Rejects when the process fails, with its stderr; children run one at a time (the whole-process CPU
 * time is this process's reaped-children time before and after).
 * @param {string[]} argv
 * @param {{ sampleMs: number, expectedMs: number }} options
 * @returns {Promise<MonitoredRun>}
 */
export function runMonitored(argv, { sampleMs, expectedMs }) {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error('runMonitored: empty command');
  const cpuBeforeNs = reapedChildrenCpuNs();
  const startNs = process.hrtime.bigint();
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const pid = child.pid;
  /** @type {Map<number, import('./proc.js').TaskTimes>} */
  const tasks = new Map();
  /** @type {{ atNs: number, rssKb: number }[]} */
  const memory = [];
  let peakRssKb = 0;
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (/** @type {string} */ chunk) => {
    stderr = (stderr + chunk).slice(-STDERR_KEPT);
  });

  const sample = () => {
    if (pid === undefined) return;
    // Merged rather than replaced: a thread keeps the last value read before it ended, and stays a
    // measuring thread once seen real-time (cyclictest's threads return to SCHED_OTHER before they end).
    for (const [tid, times] of readTasks(pid)) {
      tasks.set(tid, { ...times, realtime: times.realtime || (tasks.get(tid)?.realtime ?? false) });
    }
    const resident = readResidentKb(pid);
    if (resident) {
      memory.push({ atNs: Number(process.hrtime.bigint() - startNs), rssKb: resident.rssKb });
      peakRssKb = Math.max(peakRssKb, resident.peakKb);
    }
  };
  const sampler = setInterval(sample, sampleMs);
  let hung = false;
  const watchdog = setTimeout(() => {
    hung = true;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_TERM_MS).unref();
  }, expectedMs + HANG_GRACE_MS);

  return new Promise((resolve, reject) => {
    child.on('error', (error) => {
      clearInterval(sampler);
      clearTimeout(watchdog);
      reject(new Error(`${command}: ${error.message}`));
    });
    // 'close' comes after the process was reaped and its stderr drained.
    child.on('close', (code, signal) => {
      clearInterval(sampler);
      clearTimeout(watchdog);
      const wallNs = Number(process.hrtime.bigint() - startNs);
      if (hung || code !== 0) {
        const why = hung ? `still running ${HANG_GRACE_MS / 1000}s after it should have ended` : signal ? `killed by ${signal}` : `exit code ${code}`;
        const said = stderr.trim().split('\n').slice(-3).join(' / ');
        reject(new Error(`${argv.join(' ')}: ${why}${said ? `: ${said}` : ''}`));
        return;
      }
      const realtime = [...tasks].filter(([, times]) => times.realtime);
      const processStartedNs = pid === undefined ? undefined : tasks.get(pid)?.startedNs;
      const firstThreadNs = Math.min(...realtime.map(([, times]) => times.startedNs));
      resolve({
        wallNs,
        cpuNs: reapedChildrenCpuNs() - cpuBeforeNs,
        realtimeCpuNs: realtime.reduce((sum, [, times]) => sum + times.cpuNs, 0),
        realtimeTids: realtime.map(([tid]) => tid).sort((a, b) => a - b),
        realtimeStartDelayNs: processStartedNs !== undefined && realtime.length ? firstThreadNs - processStartedNs : 0,
        memory,
        peakRssKb,
      });
    });
  });
}
