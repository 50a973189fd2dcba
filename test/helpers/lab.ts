// For the tests that boot rtlat lab hosts: the tools they need, rtlat lab run as a process that can be
// signalled once its stderr says so (and that never outlives its test), and the processes it started,
// to check that none is left (other QEMUs on the machine are not this test's).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { kernelImageRelease } from '../../src/guest/kernel-image.js';
import { RTLAT_BIN, type CliOutcome } from './cli.js';
import { commandRuns, requireTool } from './tools.js';

export const labTools = requireTool(
  'qemu-system-x86_64, busybox, and apt-get with dpkg to fetch the lab hosts\' Debian packages',
  commandRuns('qemu-system-x86_64', ['--version']) && commandRuns('busybox', ['true']) && commandRuns('apt-get', ['--version']) && commandRuns('dpkg', ['--version']),
  'apt-get install qemu-system-x86 busybox-static',
);

/** A kernel's modules as scripts/fetch-kernels.sh keeps them: modules/RELEASE beside it. */
export function modulesOf(kernel: string): string {
  const real = realpathSync(kernel);
  return path.join(path.dirname(real), 'modules', kernelImageRelease(real)!);
}

function parentOf(pid: number): number | null {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces, so from its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Every process below `root`, with its name. */
export function descendants(root: number): { pid: number; comm: string }[] {
  const all = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
  const below = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const pid of all) {
      const parent = parentOf(pid);
      if (parent !== null && below.has(parent) && !below.has(pid)) {
        below.add(pid);
        grew = true;
      }
    }
  }
  below.delete(root);
  return [...below].map((pid) => {
    try {
      return { pid, comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim() };
    } catch {
      return { pid, comm: '' };
    }
  });
}

/** True while `process` (a pid and the name it had) still runs: a reused pid is not it. */
export function stillRunning(process: { pid: number; comm: string }): boolean {
  try {
    return readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim() === process.comm;
  } catch {
    return false;
  }
}

export interface LabOutcome extends CliOutcome {
  /** The QEMU processes rtlat started, as seen when the first signal was sent (or at the first boot message). */
  qemus: { pid: number; comm: string }[];
}

/**
 * Runs rtlat (lab) without blocking; once stderr matches `when`, sends each of `signals` in turn. It is
 * killed with SIGKILL if it has not ended within `timeoutMs`, and the test fails then.
 */
export function rtlatLab(args: string[], timeoutMs: number, when?: { stderr: RegExp; signals: NodeJS.Signals[] }): Promise<LabOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RTLAT_BIN, ...args]);
    let stdout = '';
    let stderr = '';
    let qemus: { pid: number; comm: string }[] = [];
    let sent = false;
    const sample = () => {
      const found = descendants(child.pid!).filter((entry) => entry.comm.startsWith('qemu-system'));
      if (found.length > 0) qemus = found;
    };
    const sampler = setInterval(sample, 1000);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`rtlat ${args.slice(0, 3).join(' ')} ... did not end within ${timeoutMs / 1000}s; its stderr: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (when && !sent && when.stderr.test(stderr)) {
        sent = true;
        sample();
        for (const signal of when.signals) child.kill(signal);
      }
    });
    child.on('error', reject);
    child.on('close', (status) => {
      clearInterval(sampler);
      clearTimeout(timer);
      resolve({ status, stdout, stderr, qemus });
    });
  });
}

/** Waits until none of `processes` runs (a process killed with SIGKILL takes a moment to go), up to 10 s. */
export async function gone(processes: readonly { pid: number; comm: string }[]): Promise<{ pid: number; comm: string }[]> {
  for (let wait = 0; wait < 100 && processes.some(stillRunning); wait++) await new Promise((resolve) => setTimeout(resolve, 100));
  return processes.filter(stillRunning);
}
