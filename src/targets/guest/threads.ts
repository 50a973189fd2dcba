// Host-side tuning of QEMU's threads, as the research did it: each vCPU thread pinned to a host CPU and
// at SCHED_FIFO, and every thread of a Xen HVM guest's device model at SCHED_FIFO (which removed its
// latencies from the guest's).
// Through util-linux's taskset and chrt (and read back with them): the addon sets up only its own
// measuring threads.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { RunThreadState } from '../../run-file/schema.js';
import { parseCpuList } from '../../units.js';

function run(command: string, args: string[], what: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error) throw new Error(`${what}: ${command} could not run (${result.error.message}; it comes with util-linux)`);
  if (result.status !== 0) throw new Error(`${what}: ${(result.stderr || result.stdout).trim().split('\n')[0]}`);
  return result.stdout;
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
      run('chrt', ['-f', '-p', `${priority}`, `${tid}`], `could not set thread ${tid} to SCHED_FIFO ${priority}`);
    } catch (error) {
      if (isAlive(tid)) throw error;
    }
  }
}

/**
 * A thread's scheduling as the kernel reports it through `chrt -p` and `taskset -pc`: what a user
 * checking the research's set-up by hand would run. Null when the thread has ended.
 */
export function readThreadState(tid: number): RunThreadState | null {
  let name: string;
  try {
    name = readFileSync(`/proc/${tid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
  try {
    const scheduling = run('chrt', ['-p', `${tid}`], `could not read thread ${tid}'s scheduling`);
    const affinity = run('taskset', ['-pc', `${tid}`], `could not read thread ${tid}'s affinity`);
    const policy = /policy: SCHED_(\w+)/.exec(scheduling)?.[1];
    const priority = /priority: (\d+)/.exec(scheduling)?.[1];
    const cpus = /affinity list: (\S+)/.exec(affinity)?.[1];
    if (policy === undefined || priority === undefined || cpus === undefined) throw new Error(`chrt -p or taskset -pc printed what rtlat does not read: ${scheduling.trim()} ${affinity.trim()}`);
    return { tid, name, policy: policy.toLowerCase(), priority: Number(priority), cpus: parseCpuList('affinity', cpus) };
  } catch (error) {
    if (readFileSafe(`/proc/${tid}/comm`) === null) return null;
    throw error;
  }
}

function readFileSafe(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Every thread of `threadIds` still running, read back. */
export function readThreadStates(threadIds: readonly number[]): RunThreadState[] {
  return threadIds.map(readThreadState).filter((state): state is RunThreadState => state !== null);
}
