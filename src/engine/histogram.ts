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
  if (histogram instanceof hdr.WasmHistogram) return fromUncompressedEncoding(histogram.encode());
  const copy = newHistogram('cumulative');
  addHistogram(copy, histogram);
  return copy;
}

/** HdrHistogram's V2 encoding cookie (uncompressed, ZigZag LEB128 counts), as the addon and WasmHistogram.encode() write it. */
const V2_ENCODING_COOKIE = 0x1c849303 | 0x10;
const V2_HEADER_BYTES = 40;

/**
 * A plain JS histogram from HdrHistogram's uncompressed V2 encoding, as WasmHistogram.encode() and the
 * addon's takeHistogram() write it (3 significant digits from 1: rtlat's layout). One pass over the
 * encoded bytes, each non-empty bucket's count set once, the highest first so that the histogram grows
 * once: the cost follows the encoding's size, not the samples behind it.
 */
export function fromUncompressedEncoding(encoded: Uint8Array): Histogram {
  const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  if (encoded.byteLength < V2_HEADER_BYTES || view.getInt32(0) !== V2_ENCODING_COOKIE) throw new TypeError('rtlat: expected an uncompressed V2 HdrHistogram encoding');
  if (view.getInt32(12) !== 3 || view.getBigInt64(16) !== 1n) throw new TypeError("rtlat: expected an HdrHistogram encoding of 3 significant digits from 1 (rtlat's)");
  const end = Math.min(encoded.byteLength, V2_HEADER_BYTES + view.getInt32(4));
  const indexes: number[] = [];
  const counts: number[] = [];
  let index = 0;
  for (let offset = V2_HEADER_BYTES; offset < end; ) {
    // ZigZag LEB128-64b9B: 7 bits a byte, all 8 of the ninth. Counts stay below 2^53, which doubles hold.
    let word = 0;
    let scale = 1;
    for (let byte = 0; byte < 9; byte++, scale *= 128) {
      const value = encoded[offset++]!;
      word += (byte === 8 ? value : value & 0x7f) * scale;
      if (byte === 8 || (value & 0x80) === 0) break;
    }
    // Even: a count (word / 2); odd: a run of (word + 1) / 2 empty buckets.
    if (word % 2 === 1) {
      index += (word + 1) / 2;
      continue;
    }
    if (word > 0) {
      indexes.push(index);
      counts.push(word / 2);
    }
    index++;
  }
  const histogram = newHistogram('cumulative') as hdr.JsHistogram;
  const last = indexes.length - 1;
  if (last < 0) return histogram;
  // The highest bucket recorded as its highest value: the histogram grows to hold it and takes it as
  // its maximum, as hdr-histogram-js's decode() does; the minimum is the lowest non-zero bucket's start.
  histogram.recordValueWithCount(histogram.highestEquivalentValue(histogram.valueFromIndex(indexes[last]!)), counts[last]!);
  let added = 0;
  for (let at = 0; at < last; at++) {
    histogram.addToCountAtIndex(indexes[at]!, counts[at]!);
    added += counts[at]!;
  }
  histogram.addToTotalCount(added);
  const lowestNonZero = indexes[0] === 0 ? indexes[1] : indexes[0];
  if (lowestNonZero !== undefined) histogram.updateMinAndMax(histogram.valueFromIndex(lowestNonZero));
  return histogram;
}

/**
 * Adds `source` into `target` (plain JS histograms of rtlat's layout), index by index, whatever their
 * sizes: a value's index is the same in histograms of any size with the same resolution. hdr-histogram-js's
 * add() walks the indexes so only between histograms of the same size, and otherwise derives each
 * bucket's value again (a pow() per bucket: a millisecond per take of a 50us probe's histogram).
 */
export function addHistogram(target: Histogram, source: Histogram): void {
  if (!(target instanceof hdr.JsHistogram) || !(source instanceof hdr.JsHistogram)) throw new TypeError('rtlat: expected plain JS histograms (newHistogram, copyHistogram)');
  if (source.totalCount === 0) return;
  if (source.unitMagnitude !== target.unitMagnitude || source.subBucketCount !== target.subBucketCount) {
    target.add(source);
    return;
  }
  // The highest value first, as a count of 0: the target grows to hold it (and takes it as its maximum).
  target.recordValueWithCount(source.maxValue, 0);
  let added = 0;
  for (let index = 0; added < source.totalCount && index < source.countsArrayLength; index++) {
    const count = source.getCountAtIndex(index);
    if (count === 0) continue;
    target.addToCountAtIndex(index, count);
    added += count;
  }
  target.addToTotalCount(added);
  // Only zero latencies: the source has no minimum above zero (hdr-histogram-js says MAX_SAFE_INTEGER).
  if (source.maxValue > 0) target.updateMinAndMax(source.minNonZeroValue);
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
