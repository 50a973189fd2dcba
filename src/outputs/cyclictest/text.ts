// cyclictest's own text outputs, rebuilt from a run file so that scripts written for cyclictest
// (grep on "Max:", plots of the -h histogram) read rtlat's results unchanged. Each function gives
// the whole of what cyclictest 2.40 prints in one mode, byte for byte in form
// (../shared/fixtures/cyclictest/summary-2threads.txt and histogram-h100.txt).
//
// cyclictest counts whole microseconds: each latency is truncated to us before min/max/avg/histogram.
// (It truncates the nanosecond part of a timespec difference toward zero, so a wake-up whose due time
// and wake time straddle a second boundary rounds up instead: about one sample in 10^5 at 10us
// latencies; rtlat truncates every sample, which is what cyclictest means to do.)
import type { RunFile, RunThread } from '../../run.js';
import { NS_PER_US } from '../../units.js';

export interface CyclictestHistogramOptions {
  /**
   * Start with the "# /dev/cpu_dma_latency set to 0us" line when the run held it (default true:
   * cyclictest prints it on stdout first; with --histfile the file itself lacks it).
   */
  dmaLine?: boolean;
}

/** What `cyclictest -q` prints at the end: the DMA latency line, then one "T:" line per thread. */
export function formatCyclictestSummary(run: RunFile): string {
  const lines = run.threads.map((thread) => {
    const prio = thread.applied?.priority ?? run.config.priority;
    // An imported run has no TID nor last latency: cyclictest would print 0 for a thread it never saw.
    return (
      `T:${padLeft(thread.thread, 2)} (${padLeft(thread.tid ?? 0, 5)}) P:${padLeft(prio, 2)} I:${wholeUs(thread.periodNs)}` +
      ` C:${padLeft(thread.count, 7)} Min:${padLeft(minUs(thread), 7)} Act:${padLeft(wholeUs(thread.lastNs ?? 0), 5)}` +
      ` Avg:${padLeft(cyclictestAvgUs(thread), 5)} Max:${padLeft(maxUs(thread), 8)}\n`
    );
  });
  return dmaLatencyLine(run) + lines.join('');
}

/**
 * What `cyclictest -q -h N` prints: the per-microsecond histogram with one column per thread, the
 * totals (overflows excluded, as cyclictest counts them), min/avg/max, overflow counts and the
 * cycle numbers of the overflows. Throws when the run kept no microsecond histogram.
 */
export function formatCyclictestHistogram(run: RunFile, options: CyclictestHistogramOptions = {}): string {
  const histograms = run.threads.map((thread) => thread.microsecondHistogram);
  const first = histograms[0];
  if (!first || histograms.some((histogram) => !histogram)) {
    throw new Error('this run has no microsecond histogram: it was measured without a histogram limit (cyclictest -h)');
  }
  const kept = histograms.map((histogram) => histogram!);
  const bucketCount = first.maxUs;
  if (kept.some((histogram) => histogram.maxUs !== bucketCount || histogram.buckets.length !== bucketCount)) {
    throw new Error('the threads of this run kept microsecond histograms of different sizes');
  }

  const out: string[] = [];
  if (options.dmaLine ?? true) out.push(dmaLatencyLine(run));
  out.push('# Histogram\n');
  // cyclictest separates the bucket from the first column by a space and the columns by tabs.
  for (let us = 0; us < bucketCount; us++) {
    out.push(`${padZero(us, 6)} ${kept.map((histogram) => padZero(histogram.buckets[us]!, 6)).join('\t')}\n`);
  }
  const row = (label: string, values: number[], width: number): string =>
    `# ${label}:${values.map((value) => ` ${padZero(value, width)}`).join('')}\n`;
  out.push(row('Total', kept.map((histogram) => sum(histogram.buckets)), 9));
  out.push(row('Min Latencies', run.threads.map(minUs), 5));
  out.push(row('Avg Latencies', run.threads.map((thread) => cyclictestAvgUs(thread)), 5));
  out.push(row('Max Latencies', run.threads.map(maxUs), 5));
  out.push(row('Histogram Overflows', kept.map((histogram) => histogram.overflows), 5));
  out.push('# Histogram Overflow at cycle number:\n');
  kept.forEach((histogram, index) => {
    // cyclictest keeps as many overflow cycle numbers as the histogram has buckets, and counts the rest.
    const shown = histogram.overflowCycles.slice(0, bucketCount);
    const others = histogram.overflows - shown.length;
    const cycles = shown.map((cycle) => ` ${padZero(cycle, 5)}`).join('');
    out.push(`# Thread ${index}:${cycles}${others > 0 ? ` # ${padZero(others, 5)} others` : ''}\n`);
  });
  out.push('\n');
  return out.join('');
}

/** cyclictest's first line when it held /dev/cpu_dma_latency at 0 (rtlat always requests 0), else ''. */
export function dmaLatencyLine(run: RunFile): string {
  return run.dmaLatencyHeld ? '# /dev/cpu_dma_latency set to 0us\n' : '';
}

/**
 * cyclictest's "Avg": the sum of the truncated microsecond latencies, integer-divided by the count.
 * rtlat's runs carry that sum (sumUs). An imported cyclictest run's mean is already one of truncated
 * microseconds, so its floor is exact (up to the 2 decimals cyclictest's JSON keeps).
 */
export function cyclictestAvgUs(thread: RunThread): number {
  if (thread.count === 0) return 0;
  if (thread.sumUs !== null) return Math.floor(thread.sumUs / thread.count);
  // The epsilon absorbs binary rounding of avg * 1000 (a mean of 19.00us must not floor to 18).
  return Math.floor(thread.avgNs / NS_PER_US + 1e-9);
}

function minUs(thread: RunThread): number {
  return thread.count ? wholeUs(thread.minNs) : 0;
}

function maxUs(thread: RunThread): number {
  return thread.count ? wholeUs(thread.maxNs) : 0;
}

/** Truncated toward zero, as C's integer division. */
function wholeUs(ns: number): number {
  return Math.trunc(ns / NS_PER_US);
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** printf's %Nd. */
function padLeft(value: number, width: number): string {
  return String(value).padStart(width, ' ');
}

/** printf's %0Nd (the sign before the zeros). */
function padZero(value: number, width: number): string {
  if (value < 0) return `-${String(-value).padStart(width - 1, '0')}`;
  return String(value).padStart(width, '0');
}
