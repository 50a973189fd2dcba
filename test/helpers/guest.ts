// For the tests that boot guests: the tools they need, Debian's cloud and PREEMPT_RT kernels
// (scripts/fetch-kernels.sh, cached under ~/.cache/rtlat-test between runs), the CLI run as a
// process that can be signalled once the guest is up, and the processes and files it left, to check
// there are none.
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, expect } from 'vitest';
import { RTLAT_BIN, scratchDir, type CliOutcome } from './cli.js';
import { commandRuns, requireTool } from './tools.js';

/** Given as "nrt=PATH,rt=PATH", kernels need not be fetched (no apt-get needed then). */
const givenKernels = process.env.RTLAT_TEST_KERNELS;

export const guestTools = requireTool(
  'qemu-system-x86_64, busybox, and apt-get to fetch the kernels (or RTLAT_TEST_KERNELS=nrt=PATH,rt=PATH)',
  commandRuns('qemu-system-x86_64', ['--version']) && commandRuns('busybox', ['true']) && (givenKernels !== undefined || commandRuns('apt-get', ['--version'])),
  'apt-get install qemu-system-x86 busybox-static',
);

export interface TestKernels {
  nrt: string;
  rt: string;
  /** As rtlat matrix --kernels takes them. */
  spec: string;
}

/** Fetches the kernels once (a few seconds; nothing when cached). */
export function testKernels(): TestKernels {
  const spec = givenKernels ?? execFileSync(path.resolve(import.meta.dirname, '../../scripts/fetch-kernels.sh'), { encoding: 'utf8', timeout: 300_000 }).trim();
  const paths = Object.fromEntries(spec.split(',').map((pair) => pair.split('=', 2) as [string, string]));
  return { nrt: paths.nrt!, rt: paths.rt!, spec };
}

/**
 * The temporary folder of each rtlat that rtlatAsync started: each gets its own (TMPDIR), which marks
 * it and every process it starts, and holds whatever temporary files they make.
 */
const startedTmpDirs: string[] = [];

function environmentOf(pid: string): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return []; // ended meanwhile, or a kernel thread
  }
}

/**
 * The processes still running that an rtlat started by rtlatAsync started (QEMU, the load
 * generators, rtlat itself), found by their TMPDIR, as "PID COMMAND". Other users of this machine
 * may run QEMU too: theirs are not these.
 */
export function processesLeft(): string[] {
  if (startedTmpDirs.length === 0) return [];
  const markers = new Set(startedTmpDirs.map((dir) => `TMPDIR=${dir}`));
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => environmentOf(pid).some((variable) => markers.has(variable)))
    .flatMap((pid) => {
      try {
        return [`${pid} ${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}`];
      } catch {
        return [];
      }
    });
}

/**
 * For a describe of tests that boot guests: the kernels, fetched once before them (filled in then), and
 * after each test the check that nothing its rtlats started is left, process or temporary file.
 */
export function bootingGuests(): TestKernels {
  const kernels: TestKernels = { nrt: '', rt: '', spec: '' };
  beforeAll(() => {
    if (!guestTools.skip) Object.assign(kernels, testKernels());
  }, 300_000);
  afterEach(() => {
    expect(processesLeft()).toEqual([]);
    expect(guestTemporaryFiles()).toEqual([]);
  });
  return kernels;
}

/** What the rtlats that rtlatAsync started left in their temporary folders (the run's initrd and sockets, the KVM probe's): nothing once they have ended. */
export function guestTemporaryFiles(): string[] {
  return startedTmpDirs.flatMap((dir) => readdirSync(dir).map((name) => path.join(dir, name)));
}

/** A signal to send rtlat once its stderr so far matches `stderr`. */
export interface SignalStep {
  stderr: RegExp;
  signal: NodeJS.Signals;
}

/**
 * Runs rtlat without blocking the test; with `signalWhen`, sends its signal (SIGKILL included) once its
 * pattern appears on stderr, or each step's in turn, once the step before it was sent and the step's own
 * pattern appears (two signals sent at once can reach the process as one). With `timeoutMs`, an rtlat
 * still running then is killed with SIGKILL and the promise rejects: nothing outlives its test.
 */
export function rtlatAsync(args: string[], signalWhen?: SignalStep | SignalStep[], timeoutMs?: number): Promise<CliOutcome> {
  return new Promise((resolve, reject) => {
    const tmpDir = scratchDir();
    startedTmpDirs.push(tmpDir);
    const child = spawn(process.execPath, [RTLAT_BIN, ...args], { env: { ...process.env, TMPDIR: tmpDir } });
    let stdout = '';
    let stderr = '';
    const steps = signalWhen === undefined ? [] : [signalWhen].flat();
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`rtlat ${args.slice(0, 4).join(' ')} ... did not end within ${timeoutMs / 1000}s; its stderr ended with: ${stderr.slice(-2000)}`));
          }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      while (steps.length > 0 && steps[0]!.stderr.test(stderr)) child.kill(steps.shift()!.signal);
    });
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** processesLeft once the processes have had a moment to go (a parent-death signal is delivered at once, the exit takes a moment). */
export async function processesLeftAfterAMoment(): Promise<string[]> {
  for (let wait = 0; wait < 100 && processesLeft().length > 0; wait++) await new Promise((resolve) => setTimeout(resolve, 100));
  return processesLeft();
}
