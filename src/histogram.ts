// HDR histograms as rtlat uses them: nanosecond values, 3 significant digits, 64-bit counts where a
// run can exceed 2^32 samples. Everything handed around is a plain JS histogram; only the recorder's
// hot path records into WebAssembly ones (bench/RESULTS.md: several times faster per sample), which
// it owns, copies out and destroys (an undestroyed one holds its WebAssembly memory for good).
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

export const PERCENTILES = [50, 90, 99, 99.9, 99.99] as const;

export interface PercentileValue {
  percentile: number;
  valueNs: number;
  /** False when the run has too few samples for this percentile to mean anything. */
  reliable: boolean;
}

/** Cumulative histograms count up to days of samples; interval ones never get near 2^32. */
export function newHistogram(counts: 'cumulative' | 'interval' = 'cumulative'): Histogram {
  return build(counts, false);
}

let webAssemblyReady = false;

/** A WebAssembly histogram for the recording hot path. The caller must destroy() it. */
export function newRecordingHistogram(counts: 'cumulative' | 'interval'): Histogram {
  if (!webAssemblyReady) {
    hdr.initWebAssemblySync();
    webAssemblyReady = true;
  }
  return build(counts, true);
}

function build(counts: 'cumulative' | 'interval', useWebAssembly: boolean): Histogram {
  return hdr.build({
    bitBucketSize: counts === 'cumulative' ? 64 : 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    numberOfSignificantValueDigits: 3,
    useWebAssembly,
  });
}

/** A plain JS copy of any histogram (WebAssembly and JS histograms cannot be added to each other). */
export function copyHistogram(histogram: Histogram): Histogram {
  return decodeHistogram(encodeHistogram(histogram));
}

/**
 * Samples needed before percentile p says something: ten beyond it (p99.99 needs 100,000).
 * Below that, the value is the maximum of a handful of samples, not a tail.
 */
export function minSamplesFor(percentile: number): number {
  return Math.round(10 / (1 - percentile / 100));
}

/**
 * Visits each non-empty bucket in increasing order: its lowest value, its median value and its count.
 * One pass over the counts: hdr-histogram-js's recorded-values iterator (behind its `mean`) takes
 * milliseconds on a long run's histogram, too slow for a scrape or a snapshot inside a service.
 */
export function forEachBucket(histogram: Histogram, visit: (lowestNs: number, medianNs: number, count: number) => void): void {
  // Only plain JS histograms are handed around, and their counts are readable.
  if (!(histogram instanceof hdr.JsHistogram)) throw new TypeError('rtlat: expected a plain JS histogram (newHistogram, copyHistogram)');
  let remaining = histogram.totalCount;
  for (let index = 0; remaining > 0 && index < histogram.countsArrayLength; index++) {
    const count = histogram.getCountAtIndex(index);
    if (count === 0) continue;
    const lowestNs = histogram.valueFromIndex(index);
    visit(lowestNs, histogram.medianEquivalentValue(lowestNs), count);
    remaining -= count;
  }
}

/** The mean of the recorded values (each counted at its bucket's median, as HdrHistogram does). */
export function meanOf(histogram: Histogram): number {
  let sum = 0;
  forEachBucket(histogram, (_lowestNs, medianNs, count) => (sum += medianNs * count));
  return histogram.totalCount ? sum / histogram.totalCount : 0;
}

export function percentilesOf(histogram: Histogram): PercentileValue[] {
  const count = histogram.totalCount;
  return PERCENTILES.map((percentile) => ({
    percentile,
    valueNs: count === 0 ? 0 : histogram.getValueAtPercentile(percentile),
    reliable: count >= minSamplesFor(percentile),
  }));
}

export function encodeHistogram(histogram: Histogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

export function decodeHistogram(encoded: string): Histogram {
  const decoded = hdr.decodeFromCompressedBase64(encoded, 64, false);
  // Decoding gives a histogram of the default size; copy into a 64-bit auto-resizing one.
  const histogram = newHistogram('cumulative');
  histogram.add(decoded);
  return histogram;
}
