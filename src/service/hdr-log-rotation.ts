// HdrHistogram interval logs for services that run for days, as jHiccup writes them: one line per
// interval and tag (and an untagged one, all threads together), in files rotated by age or size so
// that none grows without bound. Each file is an HdrLogWriter (src/outputs/hdr-log.ts) of its own,
// with its own StartTime, readable on its own by HistogramLogProcessor; like every rtlat output it
// appears whole, when it is finished. A file that cannot be written (a full disk) is dropped, never
// left half-written, and the next interval starts a new one: a service's log has a gap rather than
// the service an end.
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { OptionError } from '../errors.js';
import { HdrLogWriter } from '../outputs/hdr-log.js';
import { OutputError } from '../outputs/atomic-file.js';
import type { Histogram } from '../engine/histogram.js';
import { NS_PER_MS } from '../units.js';

export interface IntervalLogOptions {
  /** The log file. With rotation, each file is named after it with its start time: `latency.20261127T061632.000Z.hlog`. */
  path: string;
  /** Length of each logged interval (default 5 s, as jHiccup). */
  intervalMs?: number;
  /** Start a new file once the current one covers this long. */
  rotateEveryMs?: number;
  /** Start a new file once the current one holds this many bytes. */
  rotateBytes?: number;
  /** With rotation: keep only the newest this many finished files of this name (default: all). */
  keepFiles?: number;
  /**
   * Called for each failure to write the log, with the number of failures so far; the file being
   * written is dropped and the next interval starts a new one. Default: a process warning for the first.
   */
  onError?: (error: OutputError, failures: number) => void;
}

export interface IntervalLogConfig {
  path: string;
  onError: ((error: OutputError, failures: number) => void) | null;
  intervalMs: number;
  rotateEveryMs: number | null;
  rotateBytes: number | null;
  keepFiles: number | null;
}

export const HDR_LOG_INTERVAL_MS = 5_000;
const INTERVAL_MIN_MS = 10;
const INTERVAL_MAX_MS = 3_600_000;
/** Below this a file would hold only a handful of lines besides its header. */
const ROTATE_BYTES_MIN = 4_096;

function wholeNumber(option: string, value: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | null {
  if (value === undefined) return null;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new OptionError(option, value, `a whole number from ${min} to ${max}`);
  return value;
}

export function resolveIntervalLogOptions(options: IntervalLogOptions): IntervalLogConfig {
  if (typeof options.path !== 'string' || options.path === '') throw new OptionError('hdrLog.path', options.path, 'a file path');
  const intervalMs = wholeNumber('hdrLog.intervalMs', options.intervalMs, INTERVAL_MIN_MS, INTERVAL_MAX_MS) ?? HDR_LOG_INTERVAL_MS;
  const rotateEveryMs = wholeNumber('hdrLog.rotateEveryMs', options.rotateEveryMs, intervalMs);
  const rotateBytes = wholeNumber('hdrLog.rotateBytes', options.rotateBytes, ROTATE_BYTES_MIN);
  const keepFiles = wholeNumber('hdrLog.keepFiles', options.keepFiles, 1);
  if (keepFiles !== null && rotateEveryMs === null && rotateBytes === null) {
    throw new OptionError('hdrLog.keepFiles', keepFiles, 'rotation as well (rotateEveryMs or rotateBytes)');
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') throw new OptionError('hdrLog.onError', options.onError, 'a function');
  return { path: path.resolve(options.path), onError: options.onError ?? null, intervalMs, rotateEveryMs, rotateBytes, keepFiles };
}

/** `dir/latency.hlog` started at 2026-11-27T06:16:32Z -> `dir/latency.20261127T061632.000Z.hlog`: names sort by time. */
export function rotatedPath(file: string, startTime: Date): string {
  const extension = path.extname(file);
  const stamp = startTime.toISOString().replace(/[-:]/g, '');
  return `${file.slice(0, file.length - extension.length)}.${stamp}${extension}`;
}

export interface LoggedInterval {
  /** ns since the probe started (monotonic). */
  startNs: number;
  endNs: number;
  /** Each tag's line; tag null: the untagged line (all threads together), which readers take when given no tag. */
  lines: { tag: string | null; histogram: Histogram }[];
}

export class RotatingHdrLog {
  /** Null after a failure, until the next interval opens a new file. */
  private writer: HdrLogWriter | null;
  private fileStartNs = 0;
  private failed = 0;

  /** `startTime` is the wall-clock time of ns 0; the first file opens now, so a bad path fails before anything runs. */
  constructor(
    private readonly config: IntervalLogConfig,
    private readonly startTime: Date,
    private readonly comment: string,
  ) {
    this.writer = this.open(0);
  }

  private get rotates(): boolean {
    return this.config.rotateEveryMs !== null || this.config.rotateBytes !== null;
  }

  /** Failures to write so far (each dropped a file, or the start of one). */
  get failures(): number {
    return this.failed;
  }

  /**
   * Appends one interval (every tag's line), first starting a new file if the current one is full or
   * old enough, or was dropped. A failure drops the file and is reported (config.onError), not thrown.
   */
  write(interval: LoggedInterval): void {
    this.guarded(() => {
      const { rotateEveryMs, rotateBytes } = this.config;
      const old = rotateEveryMs !== null && interval.startNs - this.fileStartNs >= rotateEveryMs * NS_PER_MS;
      const full = rotateBytes !== null && this.writer !== null && this.writer.bytesWritten >= rotateBytes;
      if (this.writer && (old || full)) this.finishFile();
      this.writer ??= this.open(interval.startNs);
      // Timestamps are relative to the file's own StartTime.
      const startNs = interval.startNs - this.fileStartNs;
      const endNs = interval.endNs - this.fileStartNs;
      for (const { tag, histogram } of interval.lines) this.writer.writeLine(tag, { startNs, endNs, histogram });
    });
  }

  /** Makes the current file appear, whole (a failure is reported as write's are). */
  close(): void {
    this.guarded(() => this.finishFile());
  }

  /** Drops the current file: nothing appears for it. */
  abandon(): void {
    this.writer?.abandon();
    this.writer = null;
  }

  private guarded(step: () => void): void {
    try {
      step();
    } catch (error) {
      // Each writer removes its temporary file on failure; this one is not written to again.
      this.abandon();
      this.failed++;
      const failure = error instanceof OutputError ? error : new OutputError(this.config.path, error);
      if (this.config.onError) this.config.onError(failure, this.failed);
      else if (this.failed === 1) process.emitWarning(`rtlat: the HdrHistogram log lost data: ${failure.message}`, 'RtlatWarning');
    }
  }

  private open(startNs: number): HdrLogWriter {
    const startTime = new Date(this.startTime.getTime() + startNs / NS_PER_MS);
    const file = this.rotates ? rotatedPath(this.config.path, startTime) : this.config.path;
    this.fileStartNs = startNs;
    return new HdrLogWriter(file, { startTime, comment: this.comment });
  }

  private finishFile(): void {
    const writer = this.writer;
    this.writer = null;
    writer?.close();
    if (this.config.keepFiles !== null) this.prune(this.config.keepFiles);
  }

  /** Removes the oldest finished files of this log's name beyond `keep` (earlier runs' included, as logrotate does). */
  private prune(keep: number): void {
    const dir = path.dirname(this.config.path);
    const extension = path.extname(this.config.path);
    const stem = path.basename(this.config.path, extension);
    const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const rotated = new RegExp(`^${escape(stem)}\\.\\d{8}T\\d{6}\\.\\d{3}Z${escape(extension)}$`);
    const finished = readdirSync(dir).filter((name) => rotated.test(name)).sort();
    for (const name of finished.slice(0, Math.max(0, finished.length - keep))) rmSync(path.join(dir, name), { force: true });
  }
}
