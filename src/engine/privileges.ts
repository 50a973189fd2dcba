// Turns the engine's refused set-up steps into what a person can act on.
import { constants } from 'node:os';
import { OptionError } from '../errors.js';
import type { NativeStartResult } from './native.js';
import type { ProbeConfig } from './options.js';
import { deadlineBandwidthPerCpu, usableCpus } from './system.js';
import { formatDuration } from '../units.js';

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, code]) => [code, name]));

function errnoName(code: number): string {
  return errnoNames.get(code) ?? `errno ${code}`;
}

/** One short phrase per refused step, e.g. "SCHED_FIFO priority 99 (EPERM)". Empty when nothing was refused. */
export function describeRefusals(
  start: NativeStartResult,
  request: { policy: string; priority: number; cpus: (number | null)[] },
): string[] {
  const refusals = new Set<string>();
  start.threads.forEach((thread, index) => {
    const { errors } = thread;
    if (errors.policy) {
      const policy = request.policy === 'deadline' ? 'SCHED_DEADLINE' : `SCHED_${request.policy.toUpperCase()}`;
      const priority = request.policy === 'fifo' || request.policy === 'rr' ? ` priority ${request.priority}` : '';
      refusals.add(`${policy}${priority} (${errnoName(errors.policy)})`);
    }
    if (errors.affinity) refusals.add(`pinning to CPU ${request.cpus[index]} (${errnoName(errors.affinity)})`);
    if (errors.timerSlack) refusals.add(`timer slack of 1ns (${errnoName(errors.timerSlack)})`);
    if (errors.memoryLock) refusals.add(`locking the measuring threads' memory (${errnoName(errors.memoryLock)})`);
  });
  if (start.codeLock.errno) refusals.add(`locking the loop's code in memory (${errnoName(start.codeLock.errno)})`);
  if (start.dmaLatency.errno) refusals.add(`holding /dev/cpu_dma_latency at 0 (${errnoName(start.dmaLatency.errno)})`);
  return [...refusals];
}

/** The one-line message for a run refused for lack of privileges. */
export function privilegeMessage(refusals: readonly string[], otherwise = 'or allow a degraded run (--allow-degraded, --no-mlock, --no-dma-latency)'): string {
  return (
    `rtlat: not permitted: ${refusals.join('; ')}. ` +
    'Grant it: run as root, or `sudo setcap cap_sys_nice,cap_ipc_lock+ep "$(readlink -f "$(command -v node)")"`, ' +
    'or raise the limits (`ulimit -r 99 -l unlimited`, or rtprio/memlock in /etc/security/limits.conf); ' +
    'in a container: `--cap-add SYS_NICE --cap-add IPC_LOCK --ulimit rtprio=99 --ulimit memlock=-1`; ' +
    otherwise
  );
}

/** True when the kernel's SCHED_DEADLINE admission control refused a thread (EBUSY): no privilege would help. */
export function deadlineAdmissionRefused(start: NativeStartResult, config: ProbeConfig): boolean {
  return config.policy === 'deadline' && start.threads.some((thread) => thread.errors.policy === constants.errno.EBUSY);
}

/**
 * The one-line usage error for a refused SCHED_DEADLINE admission: the bandwidth the run asked for
 * (runtime / period of each thread, in shares of one CPU) against what the kernel admits.
 */
export function deadlineAdmissionError(config: ProbeConfig): OptionError {
  const percent = (share: number) => `${Number((100 * share).toFixed(1))}%`;
  const runtime = formatDuration(config.deadlineRuntimeNs);
  const periods = [...new Set(config.threads.map((plan) => plan.periodNs))].map(formatDuration).join('/');
  const asked = config.threads.reduce((sum, plan) => sum + config.deadlineRuntimeNs / plan.periodNs, 0);
  const perCpu = deadlineBandwidthPerCpu();
  const cpus = usableCpus().online.length;
  const limit =
    perCpu === null
      ? 'what the kernel admits'
      : `at most ${percent(perCpu * cpus)} of one CPU in all (${percent(perCpu)} of each of ${cpus} CPUs: kernel.sched_rt_runtime_us / kernel.sched_rt_period_us), less what other deadline tasks hold`;
  return new OptionError(
    'deadline-runtime',
    runtime,
    `a reservation the kernel admits, ${limit}; this run asked for ${percent(asked)} (${config.threads.length} thread(s) of ${runtime} every ${periods}) and SCHED_DEADLINE admission control refused it (EBUSY)`,
  );
}
