// HDR histograms as rtlat uses them: nanosecond values, 3 significant digits, 64-bit counts where a
// run can exceed 2^32 samples. Everything handed around is a plain JS histogram; only the recorder's
// hot path records into WebAssembly ones (bench/RESULTS.md: several times faster per sample), which
// it owns, copies out and destroys (an undestroyed one holds its WebAssembly memory for good).
import * as hdr from 'hdr-histogram-js';
import type { BeyondHistogram, PercentileValue } from '../run-file/schema.js';

export type Histogram = hdr.Histogram;

export const PERCENTILES = [50, 90, 99, 99.9, 99.99] as const;

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

/**
 * A plain JS copy of any histogram (WebAssembly and JS histograms cannot be added to each other). A
 * WebAssembly one crosses over in HdrHistogram's uncompressed binary encoding: going through the
 * compressed base64 form instead costs twice as much, and its first use compiles the deflate and
 * inflate code inside whatever called it (a service's first scrape).
 */
export function copyHistogram(histogram: Histogram): Histogram {
  const copy = newHistogram('cumulative');
  copy.add(histogram instanceof hdr.WasmHistogram ? decodeUncompressed(histogram.encode(), 64) : histogram);
  return copy;
}

// hdr-histogram-js attaches decode() to JsHistogram at load time (JsHistogram.encoding.js) but leaves it
// out of its type declarations; it reads the uncompressed encoding that WasmHistogram.encode() writes.
const decodeUncompressed = (hdr.JsHistogram as unknown as { decode(data: Uint8Array, bitBucketSize: 64): Histogram }).decode;

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
  // HdrHistogram's layout: the first bucket spans twice subBucketHalfCount indexes, every later one
  // subBucketHalfCount, each twice as wide in value as the one before, and inside a bucket the indexes
  // are evenly spaced. So valueFromIndex() runs twice per bucket rather than per index: it calls pow(),
  // and medianEquivalentValue() several log2() and pow(), which made a scrape's pass 10x slower.
  const half = histogram.subBucketHalfCount;
  let bucketStartIndex = 0;
  let nextBucketIndex = 2 * half;
  let bucketStartNs = histogram.valueFromIndex(0);
  let widthNs = histogram.valueFromIndex(1) - bucketStartNs;
  let remaining = histogram.totalCount;
  for (let index = 0; remaining > 0 && index < histogram.countsArrayLength; index++) {
    if (index === nextBucketIndex) {
      bucketStartIndex = index;
      nextBucketIndex = index + half;
      bucketStartNs = histogram.valueFromIndex(index);
      widthNs = histogram.valueFromIndex(index + 1) - bucketStartNs;
    }
    const count = histogram.getCountAtIndex(index);
    if (count === 0) continue;
    const lowestNs = bucketStartNs + (index - bucketStartIndex) * widthNs;
    visit(lowestNs, lowestNs + Math.floor(widthNs / 2), count);
    remaining -= count;
  }
}

/** The mean of the recorded values (each counted at its bucket's median, as HdrHistogram does). */
export function meanOf(histogram: Histogram): number {
  let sum = 0;
  forEachBucket(histogram, (_lowestNs, medianNs, count) => (sum += medianNs * count));
  return histogram.totalCount ? sum / histogram.totalCount : 0;
}

/**
 * The percentiles of the histogram's samples and, when given, of those beyond it: a percentile that
 * falls among the latter is only known to be at least their bound.
 */
export function percentilesOf(histogram: Histogram, beyond?: BeyondHistogram | null): PercentileValue[] {
  const count = histogram.totalCount + (beyond?.count ?? 0);
  return PERCENTILES.map((percentile) => {
    const reliable = count >= minSamplesFor(percentile);
    if (count === 0) return { percentile, valueNs: 0, reliable };
    const valueNs = valueAtPercentile(histogram, percentile, beyond);
    return valueNs === null ? { percentile, valueNs: beyond!.fromNs, reliable: false, atLeast: true } : { percentile, valueNs, reliable };
  });
}

/**
 * The value at `percentile` of the histogram's samples and those beyond it, as HdrHistogram ranks
 * them; null when it falls among the samples beyond (whose values are unknown).
 */
export function valueAtPercentile(histogram: Histogram, percentile: number, beyond?: BeyondHistogram | null): number | null {
  if (!beyond?.count) return histogram.getValueAtPercentile(percentile);
  const inHistogram = histogram.totalCount;
  const rank = Math.max(1, Math.floor((percentile / 100) * (inHistogram + beyond.count) + 0.5));
  // Within the histogram, that rank is another percentile of its own.
  return rank > inHistogram ? null : histogram.getValueAtPercentile((100 * rank) / inHistogram);
}

/** The samples beyond each part's histogram, together (null when none are). */
export function addBeyond(parts: readonly (BeyondHistogram | null | undefined)[]): BeyondHistogram | null {
  const known = parts.filter((part): part is BeyondHistogram => !!part?.count);
  if (known.length === 0) return null;
  return { count: known.reduce((total, part) => total + part.count, 0), fromNs: Math.min(...known.map((part) => part.fromNs)) };
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
