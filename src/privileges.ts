// Turns the engine's refused set-up steps into what a person can act on.
import { constants } from 'node:os';
import type { NativeStartResult } from './native.js';

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
export function privilegeMessage(refusals: readonly string[]): string {
  return (
    `rtlat: not permitted: ${refusals.join('; ')}. ` +
    'Grant it: run as root, or `sudo setcap cap_sys_nice,cap_ipc_lock+ep "$(readlink -f "$(command -v node)")"`, ' +
    'or raise the limits (`ulimit -r 99 -l unlimited`, or rtprio/memlock in /etc/security/limits.conf); ' +
    'in a container: `--cap-add SYS_NICE --cap-add IPC_LOCK --ulimit rtprio=99 --ulimit memlock=-1`; ' +
    'or allow a degraded run (--allow-degraded, --no-mlock, --no-dma-latency)'
  );
}
