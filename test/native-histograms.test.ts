// The histograms a session records natively (a service's probe): HdrHistogram's buckets, encoded so
// hdr-histogram-js decodes exactly what its own recording gives; takes that add up to every wake-up;
// and a histogram thread that lives and ends with its session. No latency value is asserted.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { copyHistogram, forEachBucket, fromUncompressedEncoding, newHistogram, newRecordingHistogram, type Histogram } from '../src/engine/histogram.js';
import { loadAddon } from '../src/engine/native.js';
import { Probe, recordNatively, stallOnceForTest } from '../src/engine/probe.js';
import { settledCount, threadsGone, threadsNamed } from './helpers/threads.js';

const isRoot = process.getuid?.() === 0;
const distIndex = path.resolve(import.meta.dirname, '../dist/index.js');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function buckets(histogram: Histogram): [number, number][] {
  const out: [number, number][] = [];
  forEachBucket(histogram, (lowestNs, _medianNs, count) => out.push([lowestNs, count]));
  return out;
}

/** Threads of this process named rtlat/hist: sessions' histogram threads. */
function histogramThreads(): number {
  return threadsNamed('rtlat/hist');
}

/** Seeded, so that a failure repeats: latencies spread evenly in log scale from 1 ns to `maxNs`. */
function spreadValues(count: number, maxNs: number): number[] {
  let seed = 12_345;
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: count }, () => Math.floor(Math.exp(next() * Math.log(maxNs))));
}

describe('natively recorded histograms', () => {
  it('decode into the buckets, count, minimum and maximum that hdr-histogram-js gives for the same latencies', () => {
    const edges = [0, -5, 1, 2, 1_023, 1_024, 2_047, 2_048, 2_049, 4_095, 4_096, 12_345, 1e6, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 17, 3e9, 1e12, 2 ** 52 + 1];
    const values = [...edges, ...edges, ...spreadValues(20_000, 2 ** 53)];
    const decoded = fromUncompressedEncoding(loadAddon().encodeHistogramForTest(new Float64Array(values)));
    const recorded = newRecordingHistogram('cumulative');
    // The JS recorder clamps a negative latency to 0 as well.
    for (const value of values) recorded.recordValue(Math.max(0, value));
    // What the service probe handed out before: a copy of a WebAssembly histogram, through the same encoding.
    const expected = copyHistogram(recorded);
    recorded.destroy();
    const plain = newHistogram();
    for (const value of values) plain.recordValue(Math.max(0, value));

    expect(decoded.totalCount).toBe(values.length);
    expect(buckets(decoded)).toEqual(buckets(expected));
    expect(buckets(decoded)).toEqual(buckets(plain));
    expect([decoded.minNonZeroValue, decoded.maxValue]).toEqual([expected.minNonZeroValue, expected.maxValue]);
    for (const percentile of [0, 50, 90, 99, 99.99, 100]) expect(decoded.getValueAtPercentile(percentile)).toBe(plain.getValueAtPercentile(percentile));
    // It grows as rtlat's other histograms do.
    decoded.recordValue(2 ** 53);
    expect(decoded.totalCount).toBe(values.length + 1);
  });

  it('decode an empty take as an empty histogram, and count a latency beyond what JS histograms hold (2^53 ns) at their top', () => {
    const { encodeHistogramForTest } = loadAddon();
    expect(fromUncompressedEncoding(encodeHistogramForTest(new Float64Array(0))).totalCount).toBe(0);
    const huge = fromUncompressedEncoding(encodeHistogramForTest(new Float64Array([2 ** 53, 2 ** 62, 2 ** 63 - 2 ** 11])));
    expect(huge.totalCount).toBe(3);
    const top = newHistogram();
    top.recordValue(2 ** 53 - 1);
    expect(huge.getValueAtPercentile(0)).toBe(top.getValueAtPercentile(0));
    expect(huge.getValueAtPercentile(100)).toBe(top.getValueAtPercentile(100));
  });

  it('hand a read histogram data, not samples: a take is its header and a few bytes per bucket, however many wake-ups are behind it', () => {
    const { encodeHistogramForTest } = loadAddon();
    // 100 latencies 1us apart from 10us: 100 buckets of their own at 3 significant digits.
    const distinct = Array.from({ length: 100 }, (_, index) => 10_000 + index * 1_000);
    const few = encodeHistogramForTest(new Float64Array(distinct));
    const many = encodeHistogramForTest(new Float64Array(2_000_000).map((_, index) => distinct[index % distinct.length]!));
    expect(fromUncompressedEncoding(few).totalCount).toBe(100);
    expect(fromUncompressedEncoding(many).totalCount).toBe(2_000_000);
    expect(buckets(fromUncompressedEncoding(many)).map(([lowestNs]) => lowestNs)).toEqual(buckets(fromUncompressedEncoding(few)).map(([lowestNs]) => lowestNs));
    // The 40-byte header, then per bucket its count and at most one run of empty buckets before it,
    // each a ZigZag LEB128 word of at most 9 bytes: 20,000 times the samples, the same bound.
    const bound = 40 + 9 * (2 * distinct.length + 1);
    expect(few.byteLength).toBeLessThanOrEqual(bound);
    expect(many.byteLength).toBeLessThanOrEqual(bound);
  });

  it('are only for a probe that runs until stopped, with no per-sample hooks', () => {
    expect(() => recordNatively(new Probe({ loops: 100 }))).toThrow(/runs until stopped \(no loops, duration or breaktrace\)/);
    expect(() => recordNatively(new Probe({ durationNs: 1e9 }))).toThrow(/runs until stopped/);
    expect(() => recordNatively(new Probe({}, { onSpike: () => {} })).start()).toThrow(/no per-sample hooks/);
    expect(() => new Probe().takeIntervals()).toThrow(/takeIntervals\(\) is for a probe that records natively/);
  });
});

describe.skipIf(!isRoot)('a probe that records natively (needs root: run the tests as root, as CI does)', () => {
  it('hands over every wake-up exactly once, in takes that add up to the native count, a stall included', async () => {
    const probe = recordNatively(new Probe({ periodNs: 100_000, cpus: [0], dmaLatency: false }));
    // A 20 ms stall after 500 wake-ups: one latency far above the rest, and overruns.
    stallOnceForTest(probe, { afterCycles: 500, stallNs: 20_000_000 });
    probe.start();
    const taken = newHistogram();
    for (let i = 0; i < 4; i++) {
      await sleep(60);
      for (const { histogram } of probe.takeIntervals()) taken.add(histogram);
    }
    const result = await probe.stop();
    const [rest] = probe.takeIntervals();
    taken.add(rest!.histogram);
    const thread = result.threads[0]!;
    expect(thread.count).toBeGreaterThan(1_000);
    expect(taken.totalCount).toBe(thread.count);
    expect(thread.dropped).toBe(0);
    expect(thread.overruns).toBeGreaterThan(0);
    expect(rest!.overruns).toBe(0); // once stopped, the live counters are gone; the result has them
    // The takes' largest bucket is the native maximum's, their smallest the native minimum's.
    const extremes = newHistogram();
    extremes.recordValue(thread.minNs);
    extremes.recordValue(thread.maxNs);
    expect([taken.getValueAtPercentile(0), taken.getValueAtPercentile(100)]).toEqual([extremes.getValueAtPercentile(0), extremes.getValueAtPercentile(100)]);
    // The stall's wake-up came at least the stall less one period late.
    expect(thread.maxNs).toBeGreaterThanOrEqual(20_000_000 - 100_000);
    // Nothing more arrives once taken; the result has no histograms of its own, only the counters.
    expect(probe.takeIntervals()[0]!.histogram.totalCount).toBe(0);
    expect(thread.histogramCount).toBe(0);
  });

  it('runs one histogram thread beside the measuring threads, which ends at stop', async () => {
    const before = histogramThreads();
    const probe = recordNatively(new Probe({ periodNs: 1_000_000, cpus: [0, 1], dmaLatency: false })).start();
    expect(histogramThreads()).toBe(before + 1);
    await probe.stop();
    expect(await settledCount(histogramThreads, before)).toBe(before);
  });

  it('ends its histogram thread when a worker running a service probe ends by itself, which the probe does not keep alive', async () => {
    const before = histogramThreads();
    const worker = new Worker(
      `import { readdirSync, readFileSync } from 'node:fs';
       import { startProbe } from ${JSON.stringify(distIndex)};
       import { parentPort } from 'node:worker_threads';
       startProbe({ periodNs: 1000000 });
       // Nothing keeps the worker alive once this module has run: it ends with the probe running.
       const named = (name) => readdirSync('/proc/self/task').filter((tid) => {
         try { return readFileSync('/proc/self/task/' + tid + '/comm', 'utf8').trim() === name; } catch { return false; }
       }).length;
       parentPort.postMessage(named('rtlat/hist'));`,
      { eval: true, type: 'module' } as never,
    );
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    const whileRunning = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(whileRunning).toBe(before + 1);
    expect(await exited).toBe(0);
    expect(await settledCount(histogramThreads, before)).toBe(before);
  });

  it('ends its histogram thread with the measuring thread when a worker running a service probe is terminated', async () => {
    const before = histogramThreads();
    const worker = new Worker(
      `import { startProbe } from ${JSON.stringify(distIndex)};
       import { parentPort } from 'node:worker_threads';
       const probe = startProbe({ periodNs: 1000000 });
       setInterval(() => {}, 1000); // keeps the worker busy until it is terminated
       parentPort.postMessage(probe.snapshot().threads[0].tid);`,
      { eval: true, type: 'module' } as never,
    );
    const tid = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(histogramThreads()).toBe(before + 1);
    await worker.terminate();
    expect(await threadsGone([tid])).toBe(true);
    expect(await settledCount(histogramThreads, before)).toBe(before);
  });
});
