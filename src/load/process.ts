// One running rtlat-load supervisor (native/load/): started, awaited until it says "ready", and
// stopped with SIGTERM, after which it prints what its workers did and exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PlatformError } from '../errors.js';

export interface GeneratorReport {
  /** null for an outside program (stress-ng), which reports its own work on stderr. */
  operations: number | null;
  /** From "ready" to the stop request, as the supervisor timed it. */
  elapsedNs: number;
  /** Everything the generator wrote on stderr (stress-ng's metrics, for one). */
  stderr: string;
}

const READY_TIMEOUT_MS = 10_000;
/** The supervisor gives an outside program 5 s to stop and 2 s more for its group to go. */
const STOP_TIMEOUT_MS = 10_000;
const STDERR_KEPT_CHARS = 1 << 20;

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The rtlat-load executable node-gyp built beside the addon; RTLAT_LOAD_BIN points at another build. */
export function loadGeneratorBinary(): string {
  const override = process.env.RTLAT_LOAD_BIN;
  if (override) return path.resolve(override);
  const built = ['Release', 'Debug'].map((type) => path.join(packageRoot, 'build', type, 'rtlat-load')).find((file) => existsSync(file));
  if (!built) {
    throw new PlatformError('rtlat: the load generator is not built (build/Release/rtlat-load); run `npm install` or `npm run build`');
  }
  return built;
}

function lastLine(text: string): string {
  return text.trimEnd().split('\n').pop() ?? '';
}

export class GeneratorProcess {
  /** For messages: e.g. "ipc on CPU 1". */
  readonly label: string;
  private readonly child: ChildProcess;
  private stdout = '';
  private stderr = '';
  private closed: Promise<void>;
  private exited = false;
  private stopRequested = false;
  private stopping: Promise<GeneratorReport> | null = null;

  private constructor(label: string, child: ChildProcess) {
    this.label = label;
    this.child = child;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-STDERR_KEPT_CHARS);
    });
    child.once('exit', () => (this.exited = true));
    this.closed = new Promise((resolve) => child.once('close', () => resolve()));
    // A running load never keeps the process alive by itself: when the process ends, the kernel
    // signals the generator (its parent-death signal) and it cleans up.
    child.unref();
    (child.stdout as Socket).unref();
    (child.stderr as Socket).unref();
  }

  /** Spawns `rtlat-load args...` and resolves once it is ready; rejects with its one-line reason if it is not. */
  static async start(label: string, args: string[]): Promise<GeneratorProcess> {
    const child = spawn(loadGeneratorBinary(), ['--parent-pid', `${process.pid}`, ...args], {
      // Its own session: a Ctrl-C at the terminal reaches rtlat only, which stops the load itself.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const generator = new GeneratorProcess(label, child);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`rtlat: the ${label} load did not start within ${READY_TIMEOUT_MS / 1000} s`));
      }, READY_TIMEOUT_MS);
      const onData = () => {
        if (!generator.stdout.startsWith('ready\n')) return;
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(generator);
      };
      child.stdout!.on('data', onData);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`rtlat: could not start the ${label} load: ${error.message}`));
      });
      void generator.closed.then(() => {
        clearTimeout(timer);
        reject(new Error(`rtlat: the ${label} load could not start: ${lastLine(generator.stderr) || `exit ${child.exitCode}`}`));
      });
    });
  }

  /** Set once the generator has ended without being asked to. */
  get endedEarly(): boolean {
    return !this.stopRequested && this.exited;
  }

  /** Stops the generator and returns its report; rejects when it ended early or reported nothing. Idempotent. */
  stop(): Promise<GeneratorReport> {
    this.stopping ??= this.finish();
    return this.stopping;
  }

  private async finish(): Promise<GeneratorReport> {
    const endedEarly = this.endedEarly;
    this.stopRequested = true;
    if (!endedEarly) this.child.kill('SIGTERM');
    // A referenced timer keeps the process alive until the report is in.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
    });
    const late = await Promise.race([this.closed.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      this.child.kill('SIGKILL');
      await this.closed;
      throw new Error(`rtlat: the ${this.label} load did not stop within ${STOP_TIMEOUT_MS / 1000} s and was killed`);
    }
    const report = /^\{.*\}$/m.exec(this.stdout);
    if (endedEarly || !report) {
      throw new Error(`rtlat: the ${this.label} load ended before it was stopped: ${lastLine(this.stderr) || `exit ${this.child.exitCode}`}`);
    }
    const parsed = JSON.parse(report[0]) as { operations: number | null; elapsedNs: number };
    return { operations: parsed.operations, elapsedNs: parsed.elapsedNs, stderr: this.stderr };
  }
}
