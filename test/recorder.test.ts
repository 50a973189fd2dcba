// The recorder: raw and corrected views, intervals by due time, the -h histogram, and the lifecycle of
// its WebAssembly histograms (copied out as JS histograms, destroyed at finish).
import { describe, expect, it } from 'vitest';
import { newHistogram } from '../src/engine/histogram.js';
import { ThreadRecorder, type CompletedInterval } from '../src/engine/recorder.js';
import type { Spike } from '../src/run-file/schema.js';

/** Samples as the drain lays them out: (latencyNs, dueNs, cycle) triples. */
function samples(latenciesNs: number[], periodNs: number): Float64Array {
  const out = new Float64Array(latenciesNs.length * 3);
  latenciesNs.forEach((latencyNs, cycle) => out.set([latencyNs, (cycle + 1) * periodNs, cycle], cycle * 3));
  return out;
}

describe('ThreadRecorder', () => {
  it('without run views, as a service probe has it, keeps only what it hands over: every sample there, none in raw or corrected', () => {
    const recorder = new ThreadRecorder({ thread: 0, cpu: 1, periodNs: 100_000, runViews: false });
    recorder.record(samples([10_000, 1_000_000], 100_000), 2);
    const first = recorder.takeSinceSnapshot();
    recorder.record(samples([30_000], 100_000), 1);
    expect(first.totalCount).toBe(2);
    expect(recorder.cumulative().totalCount).toBe(0);
    const { raw, corrected } = recorder.finish();
    expect([raw.totalCount, corrected.totalCount]).toEqual([0, 0]);
    // The samples since the last take are still handed over after finish().
    expect(recorder.takeSinceSnapshot().totalCount).toBe(1);
  });

  it('keeps the raw view, the corrected one, and snapshots that add up to the cumulative', () => {
    const recorder = new ThreadRecorder({ thread: 0, cpu: 1, periodNs: 100_000 });
    recorder.record(samples([10_000, 20_000, 30_000], 100_000), 3);
    const first = recorder.takeSinceSnapshot();
    // One 1 ms stall at a 100us period: the corrected view adds the wake-ups it hid (900, 800, ... 100us).
    recorder.record(samples([40_000, 1_000_000], 100_000), 2);
    const second = recorder.takeSinceSnapshot();
    const added = newHistogram();
    added.add(first);
    added.add(second);
    expect([first.totalCount, second.totalCount]).toEqual([3, 2]);
    expect(added.totalCount).toBe(recorder.cumulative().totalCount);
    const { raw, corrected } = recorder.finish();
    expect(raw.totalCount).toBe(5);
    expect(raw.maxValue).toBeGreaterThanOrEqual(999_000);
    expect(corrected.totalCount).toBe(5 + 9);
  });

  it('hands each interval over as a JS histogram, by the samples\' due times, and the last one at finish', () => {
    const intervals: CompletedInterval[] = [];
    const recorder = new ThreadRecorder({ thread: 2, cpu: null, periodNs: 250_000_000, intervalNs: 1_000_000_000, onInterval: (interval) => intervals.push(interval) });
    // Due at 0.25, 0.5, ... 2.5 s: four wake-ups in (0, 1], four in (1, 2], two in (2, 2.5]; the last
    // interval ends with the last due time, whatever the clock says when the run is stopped.
    recorder.record(samples(Array.from({ length: 10 }, () => 5_000), 250_000_000), 10);
    recorder.finish();
    expect(intervals.map((interval) => [interval.startNs, interval.endNs, interval.histogram.totalCount])).toEqual([
      [0, 1e9, 4],
      [1e9, 2e9, 4],
      [2e9, 2.5e9, 2],
    ]);
    // Plain JS histograms: they add to each other, which WebAssembly ones and JS ones cannot.
    const all = newHistogram();
    for (const interval of intervals) all.add(interval.histogram);
    expect(all.totalCount).toBe(10);
  });

  it('counts a run of whole intervals from the thread\'s own start: 2 s at 1 ms are two intervals of 1,000', () => {
    const intervals: CompletedInterval[] = [];
    const periodNs = 1_000_000;
    // The thread started 37us after the run's epoch, so its wake-ups were due at 37us + k ms.
    const startNs = 37_000;
    const due = new Float64Array(2_000 * 3);
    for (let cycle = 0; cycle < 2_000; cycle++) due.set([20_000, startNs + (cycle + 1) * periodNs, cycle], cycle * 3);
    const recorder = new ThreadRecorder({ thread: 0, cpu: 1, periodNs, intervalNs: 1e9, onInterval: (interval) => intervals.push(interval) });
    recorder.record(due, 2_000);
    recorder.finish();
    expect(intervals.map((interval) => [interval.startNs, interval.endNs, interval.histogram.totalCount])).toEqual([
      [startNs, startNs + 1e9, 1_000],
      [startNs + 1e9, startNs + 2e9, 1_000],
    ]);
  });

  it('imputes exactly one wake-up per skipped period in the corrected view, for any latency', () => {
    const periodNs = 100_000;
    // Between one and two periods late (one skipped), exactly two, uneven multiples, on time.
    const latenciesNs = [150_000, 200_000, 230_000, 1_010_000, 40_000, 100_000, 100_001, 503_000];
    const skipped = latenciesNs.reduce((sum, latencyNs) => sum + Math.max(0, Math.ceil(latencyNs / periodNs) - 1), 0);
    const recorder = new ThreadRecorder({ thread: 0, cpu: 0, periodNs });
    recorder.record(samples(latenciesNs, periodNs), latenciesNs.length);
    const { raw, corrected } = recorder.finish();
    expect(skipped).toBe(1 + 1 + 2 + 10 + 0 + 0 + 1 + 5);
    expect(corrected.totalCount).toBe(raw.totalCount + skipped);
    // A wake-up 150us late stands for one due 100us earlier, which would have woken 50us late.
    const alone = new ThreadRecorder({ thread: 0, cpu: 0, periodNs });
    alone.record(samples([150_000], periodNs), 1);
    const view = alone.finish().corrected;
    expect(view.totalCount).toBe(2);
    expect(view.minNonZeroValue / 50_000).toBeCloseTo(1, 3);
  });

  it('keeps cyclictest\'s -h histogram and reports spikes', () => {
    const spikes: Spike[] = [];
    const recorder = new ThreadRecorder({ thread: 0, cpu: 0, periodNs: 1_000_000, histogramMaxUs: 10, spikeThresholdNs: 8_000, onSpike: (spike) => spikes.push(spike) });
    recorder.record(samples([1_999, 2_000, 9_999, 10_000, 25_000], 1_000_000), 5);
    expect(recorder.microseconds!.buckets[1]).toBe(1);
    expect(recorder.microseconds!.buckets[2]).toBe(1);
    expect(recorder.microseconds!.buckets[9]).toBe(1);
    expect(recorder.microseconds!.overflows).toBe(2);
    expect(recorder.microseconds!.overflowCycles).toEqual([3, 4]);
    expect(spikes.map((spike) => [spike.cycle, spike.latencyNs])).toEqual([[2, 9_999], [3, 10_000], [4, 25_000]]);
  });

  it('finishes once: later snapshots read the final views, and recording after it is an error', () => {
    const recorder = new ThreadRecorder({ thread: 0, cpu: 0, periodNs: 1_000_000 });
    recorder.record(samples([3_000], 1_000_000), 1);
    const first = recorder.finish();
    expect(recorder.finish()).toBe(first);
    expect(recorder.cumulative()).toBe(first.raw);
    // The samples since the last snapshot are not lost at finish: the next take hands them over, once.
    expect(recorder.takeSinceSnapshot().totalCount).toBe(1);
    expect(recorder.takeSinceSnapshot().totalCount).toBe(0);
    expect(() => recorder.record(samples([1_000], 1_000_000), 1)).toThrow(/finished/);
  });
});
