// cyclictest's own text outputs, so that scripts written for cyclictest (grep on "Max:", plots of the
// -h histogram) read rtlat's results unchanged: the T: lines (live and -q), the -h/-H histogram in both
// dialects (version.ts), the --spike list, the -b break lines and the SIGUSR1 status block. Each gives
// what cyclictest prints, byte for byte in form (test/fixtures/cyclictest/ holds real 2.40 outputs).
//
// cyclictest counts whole microseconds (or nanoseconds with -N): each latency is truncated before
// min/max/avg/histogram. (It truncates the nanosecond part of a timespec difference toward zero, so a
// wake-up whose due time and wake time straddle a second boundary rounds up instead: about one sample in
// 10^5 at 10us latencies; rtlat truncates every sample, which is what cyclictest means to do.)
import type { RunFile, RunThread } from '../../run-file/schema.js';
import { NS_PER_US } from '../../units.js';
import { cyclictestVersion, NEWEST_MINOR, type CyclictestVersion } from '../../cyclictest/version.js';

/** cyclictest's thread minimum before its first wake-up (stat->min = 1000000), in either unit. */
export const CYCLICTEST_MIN_UNSET = 1_000_000;

/** One T: line's fields, in the line's unit (us, or ns with -N). */
export interface ThreadLine {
  thread: number;
  tid: number;
  priority: number;
  intervalUs: number;
  cycles: number;
  min: number;
  act: number;
  avg: number;
  max: number;
}

/** "T: 0 ( 6821) P:99 I:200 C:   5000 Min:      7 Act:   13 Avg:   14 Max:     120" (wider Act/Avg with -N). */
export function formatThreadLine(line: ThreadLine, nsecs = false): string {
  const width = nsecs ? 8 : 5;
  return (
    `T:${padLeft(line.thread, 2)} (${padLeft(line.tid, 5)}) P:${padLeft(line.priority, 2)} I:${line.intervalUs}` +
    ` C:${padLeft(line.cycles, 7)} Min:${padLeft(line.min, 7)} Act:${padLeft(line.act, width)}` +
    ` Avg:${padLeft(line.avg, width)} Max:${padLeft(line.max, 8)}\n`
  );
}

/** A run file's thread as cyclictest's T: line; an imported run has no TID nor last latency (0 then). */
export function threadLineOf(run: RunFile, thread: RunThread, nsecs = false): ThreadLine {
  const scale = nsecs ? 1 : NS_PER_US;
  return {
    thread: thread.thread,
    tid: thread.tid ?? 0,
    priority: thread.applied?.priority ?? run.config.priority,
    intervalUs: Math.trunc(thread.periodNs / NS_PER_US),
    cycles: thread.count,
    min: thread.count ? Math.trunc(thread.minNs / scale) : CYCLICTEST_MIN_UNSET,
    act: Math.trunc((thread.lastNs ?? 0) / scale),
    avg: nsecs ? (thread.count ? Math.floor(thread.avgNs) : 0) : cyclictestAvgUs(thread),
    max: thread.count ? Math.trunc(thread.maxNs / scale) : 0,
  };
}

/** What `cyclictest -q` prints at the end: the DMA latency line, then one "T:" line per thread. */
export function formatCyclictestSummary(run: RunFile, nsecs = false): string {
  return dmaLatencyLine(run) + run.threads.map((thread) => formatThreadLine(threadLineOf(run, thread, nsecs), nsecs)).join('');
}

export interface CyclictestHistogramOptions {
  /**
   * Start with the "# /dev/cpu_dma_latency set to 0us" line when the run held it (default true:
   * cyclictest prints it on stdout first; with --histfile the file itself lacks it).
   */
  dmaLine?: boolean;
  /** The dialect (default: the newest cyclictest). */
  version?: CyclictestVersion;
  /** -H: a column summing every thread (and, with several threads, their max and overflows). */
  sumColumn?: boolean;
}

/**
 * What `cyclictest -q -h N` prints: the per-microsecond histogram with one column per thread, then
 * min/avg/max, overflow counts and the cycle numbers of the overflows. 2.4 prints every bucket and a
 * "# Total:" line (overflows excluded); 2.7 and later only the buckets some thread has samples in.
 * Throws when the run kept no microsecond histogram.
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
  const version = options.version ?? cyclictestVersion(NEWEST_MINOR);
  const newer = version.histogramLibrary;
  const sum = options.sumColumn ?? false;
  // 2.4 adds the summary column only for several threads; 2.7's histogram library always does.
  const sumInRows = sum && (newer || kept.length > 1);
  const sumInTrailer = sum && kept.length > 1;

  const out: string[] = [];
  if (options.dmaLine ?? true) out.push(dmaLatencyLine(run));
  out.push('# Histogram\n');
  for (let us = 0; us < bucketCount; us++) {
    const counts = kept.map((histogram) => histogram.buckets[us]!);
    const total = sumOf(counts);
    if (newer && total === 0) continue;
    // cyclictest separates the bucket from the first column by a space and the columns by tabs.
    out.push(`${padZero(us, 6)} ${counts.map((count) => padZero(count, 6)).join('\t')}${sumInRows ? `\t${padZero(total, 6)}` : ''}\n`);
  }
  const row = (label: string, values: number[], width: number): string =>
    `# ${label}:${values.map((value) => ` ${padZero(value, width)}`).join('')}\n`;
  if (!newer) {
    const totals = kept.map((histogram) => sumOf(histogram.buckets));
    out.push(row('Total', sumInTrailer ? [...totals, sumOf(totals)] : totals, 9));
  }
  const lines = run.threads.map((thread) => threadLineOf(run, thread));
  const maxima = lines.map((line) => line.max);
  const overflows = kept.map((histogram) => histogram.overflows);
  out.push(row('Min Latencies', lines.map((line) => line.min), 5));
  out.push(row('Avg Latencies', lines.map((line) => line.avg), 5));
  out.push(row('Max Latencies', sumInTrailer ? [...maxima, Math.max(...maxima)] : maxima, 5));
  out.push(row('Histogram Overflows', sumInTrailer ? [...overflows, sumOf(overflows)] : overflows, 5));
  out.push('# Histogram Overflow at cycle number:\n');
  kept.forEach((histogram, index) => {
    // cyclictest keeps as many overflow cycle numbers as the histogram has buckets, and counts the rest.
    const shown = histogram.overflowCycles.slice(0, bucketCount).map((cycle) => padZero(cycle, 5));
    const others = histogram.overflows - shown.length;
    if (newer) {
      // hist_print_oflows: a trailing space after the colon, and "others" once the buffer is full, even at 0.
      const full = histogram.overflows >= bucketCount;
      out.push(`# Thread ${index}: ${shown.join(' ')}${full ? ` # ${padZero(histogram.overflows - bucketCount, 5)} others` : ''}\n`);
    } else {
      out.push(`# Thread ${index}:${shown.map((cycle) => ` ${cycle}`).join('')}${others > 0 ? ` # ${padZero(others, 5)} others` : ''}\n`);
    }
  });
  out.push('\n');
  return out.join('');
}

/** cyclictest's first line when it held /dev/cpu_dma_latency at 0 (rtlat always requests 0), else ''. */
export function dmaLatencyLine(run: RunFile): string {
  return run.dmaLatencyHeld ? '# /dev/cpu_dma_latency set to 0us\n' : '';
}

/** The live display's header: "policy: fifo: loadavg: 0.52 0.58 0.59 1/165 4242" and a blank line. */
export function formatLiveHeader(policyLabel: string, loadavg: string): string {
  return `policy: ${policyLabel}: loadavg: ${loadavg}          \n\n`;
}

/** Moves the cursor back up over a live frame (cyclictest's "\033[%dA"), or down past it at the end. */
export function cursorOver(threads: number, direction: 'up' | 'down'): string {
  return `\x1b[${threads + 2}${direction === 'up' ? 'A' : 'B'}`;
}

/** What SIGUSR1 prints on stderr (and SIGUSR2 into /dev/shm/cyclictest<pid>): the T: lines, framed. */
export function formatStatusBlock(lines: readonly ThreadLine[], nsecs = false): string {
  const rule = '#---------------------------\n';
  return `${rule}# cyclictest current status:\n${lines.map((line) => formatThreadLine(line, nsecs)).join('')}${rule}`;
}

/** One --spike entry: its thread, its latency (cyclictest's unit) and when it woke (us on the run's clock). */
export interface SpikeLine {
  thread: number;
  latency: number;
  wokeUs: number;
}

/** cyclictest's --spike list, printed at the end: nothing without spikes. `total` counts beyond the list. */
export function formatSpikes(spikes: readonly SpikeLine[], total: number): string {
  if (spikes.length === 0) return '';
  const lines = spikes.map((spike) => `T:${padLeft(spike.thread, 2)} Spike:${padLeft(spike.latency, 8)}: TS: ${padLeft(spike.wokeUs, 12)}\n`);
  return `\n${lines.join('')}spikes = ${total}\n\n`;
}

/** cyclictest -b's last lines: every thread's TID, and which one broke at what latency (its unit). */
export function formatBreakLines(tids: readonly number[], broke: { tid: number; latency: number } | null): string {
  const ids = `# Thread Ids:${tids.map((tid) => ` ${padZero(tid, 5)}`).join('')}\n`;
  return broke ? `${ids}# Break thread: ${broke.tid}\n# Break value: ${broke.latency}\n` : ids;
}

/** cyclictest -v's sample line: "       0:      12:      15" (thread, cycle, latency). */
export function formatVerboseSample(thread: number, cycle: number, latency: number): string {
  return `${padLeft(thread, 8)}:${padLeft(cycle, 8)}:${padLeft(latency, 8)}\n`;
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

function sumOf(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** printf's %Nd. */
export function padLeft(value: number, width: number): string {
  return String(value).padStart(width, ' ');
}

/** printf's %0Nd (the sign before the zeros). */
export function padZero(value: number, width: number): string {
  if (value < 0) return `-${String(-value).padStart(width - 1, '0')}`;
  return String(value).padStart(width, '0');
}
