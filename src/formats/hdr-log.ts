// An HdrHistogram interval log (format 1.3, as org.HdrHistogram.HistogramLogWriter and jHiccup write
// it), so that HistogramLogProcessor, HdrHistogram's plotters and jHiccup tooling read rtlat runs.
// One line per interval per thread, tagged by CPU; values are nanoseconds. The log is written to a
// temporary file and appears whole at close() (src/outputs/atomic-file.ts): a reader never sees half a log.
import { AtomicFile } from '../outputs/atomic-file.js';
import { encodeHistogram } from '../histogram.js';
import type { CompletedInterval } from '../recorder.js';
import { NS_PER_MS, NS_PER_S } from '../units.js';

export const HDR_LOG_FORMAT_VERSION = '1.3';

export interface HdrLogOptions {
  /** The run's start: interval timestamps (ns since the run's start) are written relative to it. */
  startTime: Date;
  /** A comment for the header, e.g. the command line (one line; newlines become spaces). */
  comment?: string;
}

/** The tag of a thread's lines: `cpu3` for a thread pinned to CPU 3, `thread1` for an unpinned one. */
export function hdrLogTag(thread: number, cpu: number | null): string {
  return cpu === null ? `thread${thread}` : `cpu${cpu}`;
}

export class HdrLogWriter {
  private readonly file: AtomicFile;
  /** Bytes written so far, header included (for logs rotated by size). */
  private written = 0;

  constructor(path: string, options: HdrLogOptions) {
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

  /** Appends one interval of one thread; `cpu` is the thread's CPU (null: not pinned). */
  write(interval: CompletedInterval, cpu: number | null): void {
    this.writeTagged(hdrLogTag(interval.thread, cpu), interval);
  }

  /** Appends one interval under any tag (e.g. `event-loop` beside the threads' `cpuN`). */
  writeTagged(tag: string, interval: Omit<CompletedInterval, 'thread'>): void {
    const { histogram } = interval;
    const startSec = interval.startNs / NS_PER_S;
    const lengthSec = (interval.endNs - interval.startNs) / NS_PER_S;
    // Java logs getMaxValue(), the top of the maximum's bucket, in ms for ns values (ratio 1e6);
    // getValueAtPercentile(100) is that same value.
    const maxMs = histogram.totalCount ? histogram.getValueAtPercentile(100) / NS_PER_MS : 0;
    this.append(`Tag=${tag},${startSec.toFixed(3)},${lengthSec.toFixed(3)},${maxMs.toFixed(3)},${encodeHistogram(histogram)}\n`);
  }

  private append(text: string): void {
    this.file.write(text);
    this.written += Buffer.byteLength(text);
  }

  /** Makes the log appear at its path, whole. */
  close(): void {
    this.file.commit();
  }

  /** Drops the log: nothing appears at its path. */
  abandon(): void {
    this.file.abandon();
  }
}
