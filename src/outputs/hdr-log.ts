// An HdrHistogram interval log (format 1.3, as org.HdrHistogram.HistogramLogWriter and jHiccup write
// it), so that HistogramLogProcessor, HdrHistogram's plotters and jHiccup tooling read rtlat runs.
// Per interval, one line per thread, tagged by CPU, and one untagged line of all threads together:
// the one that readers take when told no tag (HistogramLogProcessor without -tag, jHiccup's tools).
// Values are nanoseconds. The log is written to a temporary file and appears whole at close()
// (src/outputs/atomic-file.ts): a reader never sees half a log.
import { AtomicFile } from './atomic-file.js';
import { encodeHistogram, newHistogram, type Histogram } from '../engine/histogram.js';
import type { CompletedInterval } from '../engine/recorder.js';
import { NS_PER_MS, NS_PER_S } from '../units.js';

export const HDR_LOG_FORMAT_VERSION = '1.3';

export interface HdrLogOptions {
  /** The run's start: interval timestamps (ns since the run's start) are written relative to it. */
  startTime: Date;
  /** A comment for the header, e.g. the command line (one line; newlines become spaces). */
  comment?: string;
  /** What write() gets: intervals of `lengthNs` from threads 0 to `threads` - 1, which the untagged lines add up. */
  intervals?: { threads: number; lengthNs: number };
}

/** The tag of a thread's lines: `cpu3` for a thread pinned to CPU 3, `thread1` for an unpinned one. */
export function hdrLogTag(thread: number, cpu: number | null): string {
  return cpu === null ? `thread${thread}` : `cpu${cpu}`;
}

/** One interval of all threads together: the untagged line to come. */
interface AllThreadsInterval {
  startNs: number;
  endNs: number;
  histogram: Histogram;
}

export class HdrLogWriter {
  private readonly file: AtomicFile;
  /** Bytes written so far, header included (for logs rotated by size). */
  private written = 0;
  private readonly intervalNs: number;
  /** By number, the intervals write() has had from some threads, not yet from every one that will give them. */
  private readonly allThreads = new Map<number, AllThreadsInterval>();
  /** Per thread, the number of the last interval write() had from it. */
  private readonly reached: number[];

  constructor(path: string, options: HdrLogOptions) {
    this.intervalNs = options.intervals?.lengthNs ?? 0;
    this.reached = new Array<number>(options.intervals?.threads ?? 0).fill(-Infinity);
    this.file = new AtomicFile(path);
    const startSec = options.startTime.getTime() / 1000;
    const header: string[] = [];
    if (options.comment !== undefined) header.push(`#${options.comment.replace(/[\r\n]+/g, ' ')}\n`);
    header.push(`#[Histogram log format version ${HDR_LOG_FORMAT_VERSION}]\n`);
    header.push(`#[StartTime: ${startSec.toFixed(3)} (seconds since epoch), ${options.startTime.toISOString()}]\n`);
    // An explicit BaseTime equal to StartTime says the timestamps below are relative to it; without
    // one, readers guess from the timestamps' size.
    header.push(`#[BaseTime: ${startSec.toFixed(3)} (seconds since epoch)]\n`);
    header.push('"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"\n');
    this.append(header.join(''));
  }

  get bytesWritten(): number {
    return this.written;
  }

  /**
   * Appends one interval of one thread (`cpu`: its CPU, null when not pinned), and adds it to that
   * interval's untagged line. Each thread's intervals start a little after the run does (when the
   * thread did), so interval k is the one that starts in [k, k + 1) interval lengths; the untagged
   * line spans its threads' intervals. Each thread gives its intervals in order, but the threads are
   * not in step (a thread without samples in an interval gives none for it): an interval's untagged
   * line is written once every thread has given that interval or a later one, the rest at close().
   */
  write(interval: CompletedInterval, cpu: number | null): void {
    if (!(interval.thread < this.reached.length)) throw new Error(`HdrLogWriter: thread ${interval.thread} of a log of ${this.reached.length} threads`);
    this.writeLine(hdrLogTag(interval.thread, cpu), interval);
    const number = Math.floor(interval.startNs / this.intervalNs);
    const all = this.allThreads.get(number) ?? { startNs: interval.startNs, endNs: interval.endNs, histogram: newHistogram('interval') };
    all.histogram.add(interval.histogram);
    all.startNs = Math.min(all.startNs, interval.startNs);
    all.endNs = Math.max(all.endNs, interval.endNs);
    this.allThreads.set(number, all);
    this.reached[interval.thread] = number;
    this.writeAllThreads(Math.min(...this.reached));
  }

  /** Appends one interval under a tag (e.g. `event-loop` beside the threads' `cpuN`), or untagged (null). */
  writeLine(tag: string | null, interval: Omit<CompletedInterval, 'thread'>): void {
    const { histogram } = interval;
    const startSec = interval.startNs / NS_PER_S;
    const lengthSec = (interval.endNs - interval.startNs) / NS_PER_S;
    // Java logs getMaxValue(), the top of the maximum's bucket, in ms for ns values (ratio 1e6);
    // getValueAtPercentile(100) is that same value.
    const maxMs = histogram.totalCount ? histogram.getValueAtPercentile(100) / NS_PER_MS : 0;
    const prefix = tag === null ? '' : `Tag=${tag},`;
    this.append(`${prefix}${startSec.toFixed(3)},${lengthSec.toFixed(3)},${maxMs.toFixed(3)},${encodeHistogram(histogram)}\n`);
  }

  /** Writes the untagged lines of the intervals up to number `last`, in order. */
  private writeAllThreads(last: number): void {
    const ready = [...this.allThreads.keys()].filter((number) => number <= last).sort((a, b) => a - b);
    for (const number of ready) {
      this.writeLine(null, this.allThreads.get(number)!);
      this.allThreads.delete(number);
    }
  }

  private append(text: string): void {
    this.file.write(text);
    this.written += Buffer.byteLength(text);
  }

  /** Writes the untagged lines still to come, and makes the log appear at its path, whole. */
  close(): void {
    this.writeAllThreads(Infinity);
    this.file.commit();
  }

  /** Drops the log: nothing appears at its path. */
  abandon(): void {
    this.file.abandon();
  }
}
