// Runs the rtlat CLI as a user would: a separate process, its stdout, stderr and exit code.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const RTLAT_BIN = path.resolve(import.meta.dirname, '../../bin/rtlat');

export interface CliOutcome {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function rtlat(args: string[], options: { timeoutMs?: number } = {}): CliOutcome {
  const child = spawnSync(process.execPath, [RTLAT_BIN, ...args], { encoding: 'utf8', timeout: options.timeoutMs ?? 60_000 });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/** True once a process has locked memory: rtlat's probe has started and its signal handlers are in place. */
function measuring(pid: number): boolean {
  try {
    return Number(/^VmLck:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) > 0;
  } catch {
    return false;
  }
}

/**
 * Starts rtlat, sends `signal` `afterMs` after it began measuring (however slowly a loaded machine
 * starts Node), and resolves at exit.
 */
export function rtlatInterrupted(args: string[], signal: NodeJS.Signals, afterMs: number): Promise<CliOutcome> {
  return interrupted(process.execPath, [RTLAT_BIN, ...args], signal, afterMs);
}

/**
 * Starts any measuring command (rtlat, or cyclictest with -m), sends `signal` `afterMs` after it has
 * locked memory, and resolves at exit.
 */
export function interrupted(command: string, args: string[], signal: NodeJS.Signals, afterMs: number, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, options);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let timer: NodeJS.Timeout | undefined;
    const poll = setInterval(() => {
      if (child.pid === undefined || !measuring(child.pid)) return;
      clearInterval(poll);
      timer = setTimeout(() => child.kill(signal), afterMs);
    }, 20);
    child.on('error', reject);
    child.on('close', (status) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const scratchDirs: string[] = [];

/** A new empty folder under the temporary folder, removed after the test file (see test/setup.ts). */
export function scratchDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtlat-test-'));
  scratchDirs.push(dir);
  return dir;
}

/** Removes every folder scratchDir made. */
export function removeScratchDirs(): void {
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
