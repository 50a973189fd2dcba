// The histogram helpers every view goes through: the copy from WebAssembly to JS, and the pass over
// the buckets behind means, Prometheus buckets and plots. Both take shortcuts through HdrHistogram's
// layout for speed, so both are checked against hdr-histogram-js's own answers.
import { JsHistogram } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { copyHistogram, forEachBucket, newHistogram, newRecordingHistogram, type Histogram } from '../src/engine/histogram.js';

/** From 1 ns to an hour: every power of two, its neighbours, and values in between. */
const VALUES_NS = Array.from({ length: 42 }, (_, power) => 2 ** power).flatMap((value) => [value - 1, value, value + 1, Math.floor(value * 1.37)]);

function buckets(histogram: Histogram): [number, number, number][] {
  const seen: [number, number, number][] = [];
  forEachBucket(histogram, (lowestNs, medianNs, count) => seen.push([lowestNs, medianNs, count]));
  return seen;
}

describe('forEachBucket', () => {
  it('visits every non-empty bucket once, in order, with the lowest and median values hdr-histogram-js gives', () => {
    const histogram = newHistogram() as JsHistogram;
    VALUES_NS.forEach((valueNs, index) => histogram.recordValueWithCount(valueNs, index + 1));
    const expected = new Map<number, [number, number, number]>();
    VALUES_NS.forEach((valueNs, index) => {
      const lowestNs = histogram.lowestEquivalentValue(valueNs);
      const [, , count] = expected.get(lowestNs) ?? [0, 0, 0];
      expected.set(lowestNs, [lowestNs, histogram.medianEquivalentValue(valueNs), count + index + 1]);
    });
    expect(buckets(histogram)).toEqual([...expected.values()].sort(([a], [b]) => a - b));
  });

  it('visits nothing in an empty histogram and refuses a WebAssembly one', () => {
    expect(buckets(newHistogram())).toEqual([]);
    const recording = newRecordingHistogram('interval');
    try {
      expect(() => forEachBucket(recording, () => {})).toThrow(/plain JS histogram/);
    } finally {
      recording.destroy();
    }
  });
});

describe('copyHistogram', () => {
  it('copies a WebAssembly histogram into a JS one bucket for bucket, and the copy is its own', () => {
    const recording = newRecordingHistogram('cumulative');
    const expected = newHistogram();
    for (const histogram of [recording, expected]) {
      for (const valueNs of VALUES_NS) histogram.recordValue(valueNs);
      // A count beyond 2^32 at one value: cumulative histograms are 64-bit.
      histogram.recordValueWithCount(50_000, 2 ** 32 + 7);
    }
    const copy = copyHistogram(recording);
    recording.destroy();
    expect(copy).toBeInstanceOf(JsHistogram);
    expect(buckets(copy)).toEqual(buckets(expected));
    // As in every HdrHistogram, an added histogram's maximum is the top of its highest bucket.
    const maxNs = Math.max(...VALUES_NS);
    expect([copy.totalCount, copy.minNonZeroValue, copy.maxValue]).toEqual([expected.totalCount, 1, (expected as JsHistogram).highestEquivalentValue(maxNs)]);
    // Auto-resizing like every rtlat histogram, and independent of what it was copied from.
    copy.recordValue(maxNs * 1_000);
    expect(copy.totalCount).toBe(expected.totalCount + 1);
    expect(copyHistogram(copy).totalCount).toBe(copy.totalCount);
  });
});
