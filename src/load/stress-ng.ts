// stress-ng as a load: found on PATH, its arguments checked with --dry-run before anything runs, and
// its work read back from the metrics it prints when stopped (--metrics-brief).
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { OptionError, PlatformError } from '../errors.js';

export interface StressorMetrics {
  stressor: string;
  bogoOps: number;
  /** Bogo ops per second of real time, as stress-ng computed it. */
  opsPerSecond: number;
}

/** The arguments rtlat adds: the metrics it reads back. */
export const STRESS_NG_FIXED_ARGS = ['--metrics-brief'];

const MESSAGE_MAX_CHARS = 160;

/** The stress-ng executable on PATH; throws a one-line PlatformError when there is none. */
export function findStressNg(): string {
  const directories = (process.env.PATH ?? '').split(path.delimiter).filter((directory) => directory !== '');
  for (const directory of directories) {
    const candidate = path.join(directory, 'stress-ng');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; try the next directory.
    }
  }
  throw new PlatformError('rtlat: --load stress-ng:... needs stress-ng, which is not installed (Debian and Ubuntu: apt-get install stress-ng)');
}

/** stress-ng's complaint, from all it printed: its first line that is neither information nor the help hint. */
function complaint(output: string): string {
  const line = output
    .split('\n')
    .map((text) => text.trim())
    .find((text) => text !== '' && !/^stress-ng: info:/.test(text) && !/^Try '.*--help'/.test(text));
  const text = line ?? 'it exited with an error';
  return text.length > MESSAGE_MAX_CHARS ? `${text.slice(0, MESSAGE_MAX_CHARS - 3)}...` : text;
}

/** Rejects with OptionError('load', ...) when stress-ng would refuse `args` (stress-ng --dry-run). */
export function checkStressNgArgs(binary: string, args: readonly string[], specText: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(binary, ['--dry-run', ...STRESS_NG_FIXED_ARGS, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      if (!error) return resolve();
      reject(new OptionError('load', specText, `arguments stress-ng accepts (it said: ${complaint(`${stderr}\n${stdout}`)})`));
    });
  });
}

// A row of --metrics-brief: "stress-ng: metrc: [123] switch  4155520  2.00  0.39  2.81  2077558.92  1298526.99"
// ("info:" instead of "metrc:" before stress-ng 0.14). Header and miscellaneous rows do not match.
const METRICS_ROW = /^stress-ng: (?:metrc|info): +\[\d+\] +([a-z][\w-]*) +(\d+) +(\d+\.\d+) +\d+\.\d+ +\d+\.\d+ +(\d+\.\d+)/;

export function parseStressNgMetrics(output: string): StressorMetrics[] {
  const rows: StressorMetrics[] = [];
  for (const line of output.split('\n')) {
    const match = METRICS_ROW.exec(line.trim());
    if (match) rows.push({ stressor: match[1]!, bogoOps: Number(match[2]), opsPerSecond: Number(match[4]) });
  }
  return rows;
}
