// Turns one thread's drained samples into histograms: the raw view (one sample per wake-up, as
// cyclictest counts), the view corrected for coordinated omission (as jHiccup records: a late
// wake-up also stands for the wake-ups it made the loop skip), the current interval, an optional
// per-microsecond histogram for cyclictest's -h format, and spikes; and keeps what extreme-value
// analysis needs: the block maxima the loop hands over, and the run's largest latencies with their times.
import { copyHistogram, newHistogram, newRecordingHistogram, type Histogram } from './histogram.js';
import type { Exceedance, MicrosecondHistogram, Spike, ThreadExtremes } from '../run-file/schema.js';
import { DEFAULT_EXCEEDANCES_KEPT } from './options.js';
import { NS_PER_US } from '../units.js';

/**
 * The `capacity` largest latencies seen, with their times, in a min-heap: a sample enters when it
 * beats the smallest kept. What is kept at the end is exactly every latency above the smallest kept
 * (a sample once pushed out was no larger than it), so nothing above that threshold is lost.
 */
class LargestLatencies {
  private readonly latencies: Float64Array;
  private readonly cycles: Float64Array;
  private readonly dues: Float64Array;
  private size = 0;

  constructor(readonly capacity: number) {
    this.latencies = new Float64Array(capacity);
    this.cycles = new Float64Array(capacity);
    this.dues = new Float64Array(capacity);
  }

  offer(latencyNs: number, cycle: number, dueNs: number): void {
    if (this.size < this.capacity) {
      this.place(this.size++, latencyNs, cycle, dueNs);
      this.siftUp(this.size - 1);
    } else if (latencyNs > this.latencies[0]!) {
      this.place(0, latencyNs, cycle, dueNs);
      this.siftDown(0);
    }
  }

  /** The smallest kept, or null when empty. */
  get smallest(): number | null {
    return this.size > 0 ? this.latencies[0]! : null;
  }

  inTimeOrder(): Exceedance[] {
    const kept: Exceedance[] = [];
    for (let i = 0; i < this.size; i++) kept.push({ cycle: this.cycles[i]!, latencyNs: this.latencies[i]!, dueNs: this.dues[i]! });
    return kept.sort((a, b) => a.cycle - b.cycle);
  }

  private place(index: number, latencyNs: number, cycle: number, dueNs: number): void {
    this.latencies[index] = latencyNs;
    this.cycles[index] = cycle;
    this.dues[index] = dueNs;
  }

  private swap(a: number, b: number): void {
    for (const array of [this.latencies, this.cycles, this.dues]) {
      const value = array[a]!;
      array[a] = array[b]!;
      array[b] = value;
    }
  }

  private siftUp(index: number): void {
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.latencies[parent]! <= this.latencies[index]!) return;
      this.swap(parent, index);
      index = parent;
    }
  }

  private siftDown(index: number): void {
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < this.size && this.latencies[left]! < this.latencies[smallest]!) smallest = left;
      if (right < this.size && this.latencies[right]! < this.latencies[smallest]!) smallest = right;
      if (smallest === index) return;
      this.swap(smallest, index);
      index = smallest;
    }
  }
}

/**
 * The samples of one thread whose wake-ups were due in (startNs, endNs], in ns since the run's start.
 * Intervals are counted from the thread's own start (its first due time minus its period), so a 2 s run
 * at 1 ms gives two whole 1 s intervals; the last one ends at the last sample's due time.
 */
export interface CompletedInterval {
  thread: number;
  startNs: number;
  endNs: number;
  histogram: Histogram;
}

export interface RecorderOptions {
  thread: number;
  cpu: number | null;
  periodNs: number;
  /** Wake-ups per block of the block maxima handed to recordBlocks() (default 0: none). */
  blockSize?: number;
  /** How many of the largest latencies to keep with their times (default 4096). */
  exceedancesKept?: number;
  spikeThresholdNs?: number;
  histogramMaxUs?: number;
  /** Length of the intervals handed to onInterval, by the samples' due times; 0: no intervals. */
  intervalNs?: number;
  onSpike?: (spike: Spike) => void;
  onInterval?: (interval: CompletedInterval) => void;
  /**
   * Keep the run's raw and corrected views (default true). False for an owner that keeps its own
   * histograms of what takeSinceSnapshot() hands over (a service's probe): finish() then has empty ones.
   */
  runViews?: boolean;
}

export class ThreadRecorder {
  // WebAssembly histograms, owned here and destroyed by finish(): nothing outside sees them.
  private readonly raw: Histogram | null;
  private readonly corrected: Histogram | null;
  private readonly sinceSnapshot = newRecordingHistogram('interval');
  private readonly interval: Histogram | null;
  /** Where interval 0 starts: the thread's first due time minus one period; null before the first sample. */
  private intervalOriginNs: number | null = null;
  private intervalIndex = 0;
  private lastDueNs = 0;
  private final: { raw: Histogram; corrected: Histogram } | null = null;
  /** After finish(): the samples since the last takeSinceSnapshot(), until they are taken. */
  private lastInterval: Histogram | null = null;
  readonly microseconds: MicrosecondHistogram | null;
  private readonly largest: LargestLatencies;
  private readonly blockMaximaNs: number[] = [];

  constructor(private readonly options: RecorderOptions) {
    this.largest = new LargestLatencies(options.exceedancesKept ?? DEFAULT_EXCEEDANCES_KEPT);
    const maxUs = options.histogramMaxUs;
    this.microseconds = maxUs ? { maxUs, buckets: new Array<number>(maxUs).fill(0), overflows: 0, overflowCycles: [] } : null;
    this.interval = options.intervalNs ? newRecordingHistogram('interval') : null;
    const runViews = options.runViews ?? true;
    this.raw = runViews ? newRecordingHistogram('cumulative') : null;
    this.corrected = runViews ? newRecordingHistogram('cumulative') : null;
  }

  /** A JS copy of one of the run's views, or an empty one when they are not kept. */
  private static copyOrEmpty(histogram: Histogram | null): Histogram {
    return histogram ? copyHistogram(histogram) : newHistogram('cumulative');
  }

  /** The cumulative raw view so far, as a JS histogram of its own. */
  cumulative(): Histogram {
    return this.final ? this.final.raw : ThreadRecorder.copyOrEmpty(this.raw);
  }

  /** The samples since the previous call, as a JS histogram of its own; starts the next such interval. */
  takeSinceSnapshot(): Histogram {
    if (this.final) {
      const rest = this.lastInterval ?? newHistogram('interval');
      this.lastInterval = null;
      return rest;
    }
    const taken = copyHistogram(this.sinceSnapshot);
    this.sinceSnapshot.reset();
    return taken;
  }

  /**
   * Ends recording: hands over the interval in progress (ending at the last sample's due time), returns
   * the raw and corrected views as JS histograms and frees the WebAssembly ones. Idempotent.
   */
  finish(): { raw: Histogram; corrected: Histogram } {
    if (this.final) return this.final;
    if (this.interval && this.interval.totalCount > 0) this.emitInterval(this.lastDueNs);
    this.final = { raw: ThreadRecorder.copyOrEmpty(this.raw), corrected: ThreadRecorder.copyOrEmpty(this.corrected) };
    this.lastInterval = copyHistogram(this.sinceSnapshot);
    for (const histogram of [this.raw, this.corrected, this.sinceSnapshot, this.interval]) histogram?.destroy();
    return this.final;
  }

  /** Records `count` samples laid out as (latencyNs, dueNs, cycle) triples. */
  record(samples: Float64Array, count: number): void {
    if (this.final) throw new Error('rtlat: this recorder has finished');
    const { periodNs, spikeThresholdNs } = this.options;
    for (let i = 0; i < count; i++) {
      const latencyNs = samples[3 * i]!;
      const dueNs = samples[3 * i + 1]!;
      const cycle = samples[3 * i + 2]!;
      // clock_nanosleep never returns early, so a negative latency cannot happen; clamping keeps a
      // broken clock from throwing inside the histogram (the native minimum still shows it).
      const value = latencyNs > 0 ? latencyNs : 0;
      if (this.interval) this.moveIntervalTo(dueNs);
      this.raw?.recordValue(value);
      this.corrected?.recordValue(value);
      // The loop skipped the ceil(L / P) - 1 wake-ups that fell due while this one was late (its
      // overruns); each would have woken now, L - P, L - 2P, ... late. Exactly one value per skipped
      // wake-up, so corrected.count == count + overruns: HdrHistogram's recordValueWithExpectedInterval
      // imputes only the values of at least P, floor(L / P) - 1 of them (none for P < L < 2P).
      if (this.corrected) for (let missedNs = value - periodNs; missedNs > 0; missedNs -= periodNs) this.corrected.recordValue(missedNs);
      this.sinceSnapshot.recordValue(value);
      this.interval?.recordValue(value);
      if (this.microseconds) this.recordMicroseconds(value, cycle);
      this.largest.offer(latencyNs, cycle, dueNs);
      if (spikeThresholdNs !== undefined && latencyNs > spikeThresholdNs) {
        this.options.onSpike?.({ thread: this.options.thread, cpu: this.options.cpu, cycle, latencyNs, dueNs });
      }
    }
  }

  /** Records `count` block maxima laid out as (maxNs, block) pairs, as the loop completed them. */
  recordBlocks(blocks: Float64Array, count: number): void {
    for (let i = 0; i < count; i++) this.blockMaximaNs.push(blocks[2 * i]!);
  }

  /** What was kept for extreme-value analysis; `blocksLost` comes from the loop's counters. */
  extremes(blocksLost: number): ThreadExtremes {
    return {
      blockSize: this.options.blockSize ?? 0,
      blockMaximaNs: [...this.blockMaximaNs],
      blocksLost,
      thresholdNs: this.largest.smallest,
      exceedances: this.largest.inTimeOrder(),
    };
  }

  /** Hands over the interval in progress when the sample due at `dueNs` belongs to a later one. */
  private moveIntervalTo(dueNs: number): void {
    const intervalNs = this.options.intervalNs!;
    // The first sample is the thread's first wake-up (a ring drops samples only when full).
    this.intervalOriginNs ??= dueNs - this.options.periodNs;
    this.lastDueNs = dueNs;
    // Interval k holds the wake-ups due in (origin + k * interval, origin + (k + 1) * interval].
    const index = Math.ceil((dueNs - this.intervalOriginNs) / intervalNs) - 1;
    if (index === this.intervalIndex) return;
    if (this.interval!.totalCount > 0) this.emitInterval(this.intervalStartNs() + intervalNs);
    this.intervalIndex = index;
  }

  private intervalStartNs(): number {
    return this.intervalOriginNs! + this.intervalIndex * this.options.intervalNs!;
  }

  private emitInterval(endNs: number): void {
    const interval = this.interval!;
    this.options.onInterval?.({ thread: this.options.thread, startNs: this.intervalStartNs(), endNs, histogram: copyHistogram(interval) });
    interval.reset();
  }

  private recordMicroseconds(latencyNs: number, cycle: number): void {
    const histogram = this.microseconds!;
    // cyclictest truncates each latency to whole microseconds before bucketing.
    const us = Math.floor(latencyNs / NS_PER_US);
    if (us < histogram.maxUs) {
      histogram.buckets[us]!++;
    } else {
      histogram.overflows++;
      if (histogram.overflowCycles.length < histogram.maxUs) histogram.overflowCycles.push(cycle);
    }
  }
}
