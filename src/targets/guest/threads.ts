// Host-side tuning of QEMU's threads, as the research did it: each vCPU thread pinned to a host CPU,
// and every QEMU thread at SCHED_FIFO (which removed the device model's latencies from the guest's).
// Through util-linux's taskset and chrt: the addon sets up only its own measuring threads.
import { spawnSync } from 'node:child_process';

function run(command: string, args: string[], what: string): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error) throw new Error(`${what}: ${command} could not run (${result.error.message}; it comes with util-linux)`);
  if (result.status !== 0) throw new Error(`${what}: ${(result.stderr || result.stdout).trim().split('\n')[0]}`);
}

/** Pins vCPU i to cpus[i % cpus.length]; returns the host CPU of each vCPU. */
export function pinVcpuThreads(threadIds: readonly number[], cpus: readonly number[]): number[] {
  return threadIds.map((tid, vcpu) => {
    const cpu = cpus[vcpu % cpus.length]!;
    run('taskset', ['-p', '-c', `${cpu}`, `${tid}`], `could not pin vCPU ${vcpu} (thread ${tid}) to CPU ${cpu}`);
    return cpu;
  });
}

/** Puts each thread at SCHED_FIFO `priority`. A thread that has ended meanwhile is skipped. */
export function setFifoPriority(threadIds: readonly number[], priority: number, isAlive: (tid: number) => boolean): void {
  for (const tid of threadIds) {
    try {
      run('chrt', ['-f', '-p', `${priority}`, `${tid}`], `could not set QEMU thread ${tid} to SCHED_FIFO ${priority}`);
    } catch (error) {
      if (isAlive(tid)) throw error;
    }
  }
}
