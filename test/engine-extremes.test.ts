// What the engine keeps for extreme-value analysis: the block maxima the measuring loop records, and
// the largest latencies with their times. Checked against every sample of a real run (a spike
// threshold of 0 reports each one), and the largest-latencies list on its own against any sequence.
import { describe, expect, it } from 'vitest';
import { Probe, type Spike } from '../src/index.js';
import { ThreadRecorder } from '../src/engine/recorder.js';
import { runFileFromProbe } from '../src/run-file/from-probe.js';
import { schemaProblems } from './helpers/schema.js';

const isRoot = process.getuid?.() === 0;
const sanitized = Boolean(process.env.RTLAT_SANITIZER);

describe('the largest latencies a recorder keeps', () => {
  it('are exactly every latency above the smallest kept, in time order, for any sequence', () => {
    // A sequence with ties, rises and falls: a min-heap that kept the wrong ones would show here.
    const latencies = Array.from({ length: 5_000 }, (_, i) => ((i * 7_919) % 1_013) * 10 + (i % 3 === 0 ? 20_000 : 0));
    const recorder = new ThreadRecorder({ thread: 0, cpu: 0, periodNs: 1_000, exceedancesKept: 300 });
    const triples = new Float64Array(latencies.flatMap((latency, cycle) => [latency, (cycle + 1) * 1_000, cycle]));
    // In uneven chunks, as drains hand them over.
    for (let start = 0; start < latencies.length; start += 777) {
      const count = Math.min(777, latencies.length - start);
      recorder.record(triples.subarray(3 * start, 3 * (start + count)), count);
    }
    const { thresholdNs, exceedances } = recorder.extremes(0);
    expect(exceedances).toHaveLength(300);
    expect(thresholdNs).toBe(Math.min(...exceedances.map((e) => e.latencyNs)));
    const above = latencies.map((latency, cycle) => ({ latency, cycle })).filter(({ latency }) => latency > thresholdNs!);
    const keptAbove = exceedances.filter((e) => e.latencyNs > thresholdNs!);
    expect(keptAbove.map((e) => [e.cycle, e.latencyNs])).toEqual(above.map(({ latency, cycle }) => [cycle, latency]));
    expect(exceedances.every((e) => e.dueNs === (e.cycle + 1) * 1_000)).toBe(true);
    expect(exceedances.map((e) => e.cycle)).toEqual([...exceedances.map((e) => e.cycle)].sort((a, b) => a - b));
    recorder.finish();
  });

  it('keeps everything while fewer wake-ups than it holds were measured', () => {
    const recorder = new ThreadRecorder({ thread: 0, cpu: 0, periodNs: 1_000 });
    recorder.record(new Float64Array([5, 1_000, 0, 3, 2_000, 1]), 2);
    expect(recorder.extremes(0)).toEqual({ blockSize: 0, blockMaximaNs: [], blocksLost: 0, thresholdNs: 3, exceedances: [{ cycle: 0, latencyNs: 5, dueNs: 1_000 }, { cycle: 1, latencyNs: 3, dueNs: 2_000 }] });
    recorder.finish();
  });
});

describe('block sizes', () => {
  it('default to 2 s of wake-ups at the thread\'s period, so 10 minutes give 300 blocks', () => {
    expect(new Probe({ periodNs: 1_000_000, cpus: [0] }).config.threads[0]!.blockSize).toBe(2_000);
    expect(new Probe({ periodNs: 50_000, cpus: [0] }).config.threads[0]!.blockSize).toBe(40_000);
  });
});

describe.skipIf(!isRoot)('block maxima from the measuring loop (needs root: run the tests as root, as CI does)', () => {
  it('are the maximum of each complete block of wake-ups, in order, as every sample shows', async () => {
    const samples: Spike[][] = [[], []];
    const probe = new Probe(
      { periodNs: 200_000, loops: 2_050, cpus: [0, 1], blockSize: 50, exceedancesKept: 100, spikeThresholdNs: 0, keepProcessAlive: true },
      { onSpike: (spike) => samples[spike.thread]!.push(spike) },
    ).start();
    await probe.finished;
    const result = await probe.stop();
    for (const thread of result.threads) {
      const seen = samples[thread.thread]!;
      // Every sample reached the drain (a latency of exactly 0 is not above the threshold, so not seen).
      expect(thread.dropped).toBe(0);
      expect(seen.length).toBeGreaterThan(2_000);
      const expected: number[] = [];
      for (let block = 0; block < 41; block++) {
        const inBlock = seen.filter((sample) => Math.floor(sample.cycle / 50) === block).map((sample) => sample.latencyNs);
        expected.push(Math.max(0, ...inBlock));
      }
      const { extremes } = thread;
      expect(extremes.blockSize).toBe(50);
      expect(extremes.blocksLost).toBe(0);
      // 2050 wake-ups: 41 complete blocks, none incomplete.
      expect(extremes.blockMaximaNs).toEqual(expected);
      expect(Math.max(...extremes.blockMaximaNs)).toBe(thread.maxNs);
      const largest = [...seen].sort((a, b) => b.latencyNs - a.latencyNs).slice(0, 100);
      expect(extremes.exceedances).toHaveLength(100);
      expect(extremes.thresholdNs).toBe(largest.at(-1)!.latencyNs);
      expect(new Set(extremes.exceedances.filter((e) => e.latencyNs > extremes.thresholdNs!).map((e) => e.cycle))).toEqual(
        new Set(largest.filter((s) => s.latencyNs > extremes.thresholdNs!).map((s) => s.cycle)),
      );
      // The loop still takes no page fault with the block ring in its locked region (under ASan mlock is a no-op).
      if (!sanitized) expect(thread.pageFaults).toBe(0);
    }
    const run = runFileFromProbe(result, { rtlatVersion: 'test', commandLine: 'test', environment: null, during: null, spikes: [], spikesOmitted: 0 });
    expect(schemaProblems(run)).toBe('');
  });
});
