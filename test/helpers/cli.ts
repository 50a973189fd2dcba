// Runs the rtlat CLI as a user would: a separate process, its stdout, stderr and exit code.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
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

/** Starts rtlat, sends `signal` once `readyWhen` has been seen on stderr or after `afterMs`, and resolves at exit. */
export function rtlatInterrupted(args: string[], signal: NodeJS.Signals, afterMs: number): Promise<CliOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RTLAT_BIN, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill(signal), afterMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

export function scratchDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'rtlat-test-'));
}
