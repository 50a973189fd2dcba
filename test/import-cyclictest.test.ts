// cyclictest --json files as run files: the two fixtures with exact numbers, command lines read back,
// and malformed files refused with a one-line reason.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeHistogram } from '../src/engine/histogram.js';
import { readFingerprint } from '../src/fingerprint/index.js';
import { importCyclictestJson, parseCyclictestJson } from '../src/import/cyclictest.js';
import { fixture } from './helpers/runs.js';

const OPTIONS = { rtlatVersion: '0.1.0' };

/** run.json with another command line (and, optionally, other top-level fields). */
function withCommandLine(commandLine: string, extra: Record<string, unknown> = {}): string {
  const data = JSON.parse(fixture('run.json')) as Record<string, unknown>;
  return JSON.stringify({ ...data, 'cmdline:': commandLine, ...extra });
}

describe('importCyclictestJson: run.json (2 threads, no histogram)', () => {
  const environment = readFingerprint({ root: path.resolve(import.meta.dirname, 'fixtures/fingerprint/xen-hvm') });
  const run = importCyclictestJson(fixture('run.json'), { ...OPTIONS, environment });

  it('names cyclictest and keeps its command line and times', () => {
    expect(run.schema).toBe('rtlat.run');
    expect(run.schemaVersion).toBe(1);
    expect(run.tool).toEqual({ name: 'cyclictest', version: '2.40' });
    expect(run.rtlatVersion).toBe('0.1.0');
    expect(run.commandLine).toBe('cyclictest -m -p 99 -i 500 -l 2000 -t 2 -a -q --json=run.json');
    expect(run.startTime).toBe('2026-11-27T06:16:32.000Z');
    expect(run.endTime).toBe('2026-11-27T06:16:33.000Z');
    expect(run.environment).toBe(environment);
    expect(run.stoppedBy).toBe('completed');
    expect(run.dmaLatencyHeld).toBeNull();
    expect(run.degraded).toEqual([]);
    expect(run.breaktrace).toBeNull();
    expect(run.spikes).toEqual([]);
    expect(run.spikesOmitted).toBe(0);
  });

  it('reads the configuration back from the command line', () => {
    expect(run.config).toEqual({
      periodNs: 500_000,
      policy: 'fifo',
      priority: 99,
      clock: 'monotonic',
      distanceNs: 500_000,
      aligned: false,
      alignOffsetNs: null,
      staggerNs: null,
      loops: 2000,
      loopsEndAll: true,
      durationNs: null,
      cpus: [0, 1],
      mainCpus: null,
      lockMemory: true,
      dmaLatency: true,
      allowDegraded: true,
      spikeThresholdNs: null,
      breakThresholdNs: null,
      histogramMaxUs: null,
    });
  });

  it('gives each thread its period (interval + distance), counts and latencies in ns', () => {
    expect(run.threads).toEqual([
      {
        thread: 0, cpu: 0, tid: null, periodNs: 500_000, applied: null, memoryLocked: null, pageFaults: null,
        count: 2000, minNs: 12_000, avgNs: 19_000, maxNs: 9_301_000, lastNs: null, sumUs: null, overruns: null, dropped: 0,
        percentiles: [], corrected: null, histogram: null, beyondHistogram: null, correctedHistogram: null, microsecondHistogram: null, extremes: null,
      },
      {
        thread: 1, cpu: 1, tid: null, periodNs: 1_000_000, applied: null, memoryLocked: null, pageFaults: null,
        count: 1024, minNs: 10_000, avgNs: 18_700, maxNs: 3_807_000, lastNs: null, sumUs: null, overruns: null, dropped: 0,
        percentiles: [], corrected: null, histogram: null, beyondHistogram: null, correctedHistogram: null, microsecondHistogram: null, extremes: null,
      },
    ]);
  });

  it('sums all threads, the mean weighted by cycles', () => {
    expect(run.all).toEqual({
      count: 3024,
      minNs: 10_000,
      avgNs: (19_000 * 2000 + 18_700 * 1024) / 3024,
      maxNs: 9_301_000,
      overruns: null,
      dropped: 0,
      percentiles: [],
      histogram: null,
      beyondHistogram: null,
    });
    expect(run.all.avgNs).toBeCloseTo(18_898.41, 2);
  });
});

describe('importCyclictestJson: run-histogram.json (-h 60)', () => {
  const run = importCyclictestJson(fixture('run-histogram.json'), OPTIONS);
  const [thread] = run.threads;
  // Cumulative counts: 13us reaches 1,384 of 2,000, 15us 1,904, 19us 1,982, 25us 1,998; HDR reports
  // the top of each value's bucket (8ns wide at 13us, 16ns at 25us). The one overflow (the maximum,
  // 117us) is known only to be 60us or more: p99.99 falls on it, so it is a bound, >= 60us.
  const expectedPercentiles = [
    { percentile: 50, valueNs: 13_007, reliable: true },
    { percentile: 90, valueNs: 15_007, reliable: true },
    { percentile: 99, valueNs: 19_007, reliable: true },
    { percentile: 99.9, valueNs: 25_007, reliable: false },
    { percentile: 99.99, valueNs: 60_000, reliable: false, atLeast: true },
  ];

  it('keeps no distance with -h (cyclictest forces it to 0) and the histogram limit', () => {
    expect(run.config).toMatchObject({ periodNs: 500_000, distanceNs: 0, loops: 2000, histogramMaxUs: 60, priority: 99, policy: 'fifo', cpus: [0] });
  });

  it('gives the thread its numbers and the percentiles of its histogram', () => {
    expect(thread).toMatchObject({ count: 2000, minNs: 8_000, avgNs: 13_210, maxNs: 117_000, periodNs: 500_000, cpu: 0 });
    expect(thread!.percentiles).toEqual(expectedPercentiles);
    expect(run.all.percentiles).toEqual(expectedPercentiles);
  });

  it('rebuilds the microsecond histogram, overflows counted but their cycles unknown', () => {
    const micro = thread!.microsecondHistogram!;
    expect(micro.maxUs).toBe(60);
    expect(micro.buckets).toHaveLength(60);
    expect(micro.buckets.slice(8, 26)).toEqual([16, 66, 44, 38, 248, 972, 407, 113, 36, 24, 13, 5, 4, 3, 3, 4, 1, 1]);
    expect(micro.buckets[52]).toBe(1);
    expect(micro.buckets.reduce((total, count) => total + count, 0)).toBe(1999);
    expect(micro.overflows).toBe(1);
    expect(micro.overflowCycles).toEqual([]);
  });

  it('encodes an HDR histogram of every binned cycle, each bucket at its microsecond in ns; the overflow is counted beyond it', () => {
    const histogram = decodeHistogram(thread!.histogram!);
    expect(histogram.totalCount).toBe(1999);
    expect(histogram.minNonZeroValue).toBe(8_000);
    expect(histogram.getValueAtPercentile(100)).toBe(52_031);
    expect(thread!.beyondHistogram).toEqual({ count: 1, fromNs: 60_000 });
    expect(decodeHistogram(run.all.histogram!).totalCount).toBe(1999);
    expect(run.all.beyondHistogram).toEqual({ count: 1, fromNs: 60_000 });
  });

  it('knows the sum behind cyclictest\'s Avg only when every cycle is in the histogram', () => {
    // The overflow's value is unknown, so is the sum; without it, the buckets sum exactly.
    expect(thread!.sumUs).toBeNull();
    const complete = JSON.parse(fixture('run-histogram.json')) as { thread: Record<string, { histogram: Record<string, number>; cycles: number }> };
    const only = complete.thread['0']!;
    only.cycles -= 1;
    const expected = Object.entries(only.histogram).reduce((total, [bucket, count]) => total + Number(bucket) * count, 0);
    expect(importCyclictestJson(JSON.stringify(complete), OPTIONS).threads[0]!.sumUs).toBe(expected);
  });
});

describe('the command line read back', () => {
  it('takes attached values, bundled flags and long options', () => {
    const run = importCyclictestJson(withCommandLine('cyclictest -mq -p80 --interval=250 -l0 -D 1m --policy=rr -c 1 --secaligned --spike=100 -b 500 --mainaffinity=0,2-3'), OPTIONS);
    expect(run.config).toMatchObject({
      mainCpus: [0, 2, 3],
      periodNs: 250_000,
      priority: 80,
      policy: 'rr',
      clock: 'realtime',
      loops: null,
      durationNs: 60_000_000_000,
      lockMemory: true,
      aligned: true,
      alignOffsetNs: 0,
      staggerNs: null,
      loopsEndAll: false,
      spikeThresholdNs: 100_000,
      breakThresholdNs: 500_000,
    });
    expect(run.threads.map((thread) => thread.periodNs)).toEqual([250_000, 750_000]);
    expect(run.stoppedBy).toBe('completed');
  });

  it('takes -A and --aligned\'s offset only when it is attached or a number follows (getopt\'s "A::")', () => {
    const fifo99 = { policy: 'fifo', priority: 99, periodNs: 200_000, lockMemory: true, aligned: false, alignOffsetNs: null };
    for (const [commandLine, staggerNs] of [
      ['cyclictest -m -A -p 99 -i 200 -l 5', 0],
      ['cyclictest -m -A 500 -p 99 -i 200 -l 5', 500_000],
      ['cyclictest -m -A500 -p 99 -i 200 -l 5', 500_000],
      ['cyclictest -m --aligned -p 99 -i 200 -l 5', 0],
      ['cyclictest -m --aligned=500 -p 99 -i 200 -l 5', 500_000],
      ['cyclictest -mA -p 99 -i 200 -l 5', 0],
    ] as const) {
      expect(importCyclictestJson(withCommandLine(commandLine), OPTIONS).config, commandLine).toMatchObject({ ...fifo99, staggerNs });
    }
  });

  it('uses cyclictest\'s defaults: 1ms, SCHED_OTHER at 0, 500us distance, endless (so stopped by a signal)', () => {
    const run = importCyclictestJson(withCommandLine('cyclictest -t 2 --default-system'), OPTIONS);
    expect(run.config).toMatchObject({ periodNs: 1_000_000, priority: 0, policy: 'other', distanceNs: 500_000, loops: null, durationNs: null, lockMemory: false, dmaLatency: false });
    expect(run.threads.map((thread) => thread.periodNs)).toEqual([1_000_000, 1_500_000]);
    expect(run.stoppedBy).toBe('signal');
  });

  it('takes -d, and -h/-H only as a limit that cancels the distance', () => {
    expect(importCyclictestJson(withCommandLine('cyclictest -t 2 -d 100 -i 200 -l 5'), OPTIONS).threads.map((thread) => thread.periodNs)).toEqual([200_000, 300_000]);
    expect(importCyclictestJson(withCommandLine('cyclictest -t 2 -d 100 -i 200 -l 5 -H 80'), OPTIONS).config).toMatchObject({ distanceNs: 0, histogramMaxUs: 80 });
  });

  it('reads values in ns when cyclictest ran with -N', () => {
    const run = importCyclictestJson(withCommandLine('cyclictest -N -t 2 -l 100', { resolution_in_ns: 1 }), OPTIONS);
    expect(run.threads[0]).toMatchObject({ minNs: 12, avgNs: 19, maxNs: 9301 });
    // With -N, cyclictest takes -b and --spike in ns too.
    const thresholds = importCyclictestJson(withCommandLine('cyclictest -N -t 2 -l 100 -b 500000 --spike 100000', { resolution_in_ns: 1 }), OPTIONS);
    expect(thresholds.config).toMatchObject({ breakThresholdNs: 500_000, spikeThresholdNs: 100_000 });
  });
});

describe('malformed files', () => {
  const broken = (change: (data: Record<string, any>) => void): string => {
    const data = JSON.parse(fixture('run-histogram.json')) as Record<string, any>;
    change(data);
    return JSON.stringify(data);
  };
  const cases: [string, string, RegExp][] = [
    ['not JSON', '{"file_version": 1,', /^not a cyclictest --json file: invalid JSON \(.+\)$/],
    ['an array', '[]', /the top level is not a JSON object$/],
    ['no command line', broken((data) => delete data['cmdline:']), /"cmdline:" is missing or not a string$/],
    ['no version', broken((data) => (data['rt_test_version:'] = 2.4)), /"rt_test_version:" is missing or not a string$/],
    ['no thread count', broken((data) => delete data['num_threads']), /"num_threads" missing$/],
    ['a missing thread', broken((data) => (data['num_threads'] = 2)), /num_threads is 2 but thread "1" is missing$/],
    ['no cycles', broken((data) => delete data['thread']['0']['cycles']), /thread "0" has "cycles" missing$/],
    ['a bad max', broken((data) => (data['thread']['0']['max'] = 'lots')), /thread "0" has "max" "lots", not a number$/],
    ['a bad bucket', broken((data) => (data['thread']['0']['histogram']['x'] = 3)), /thread "0" has a histogram entry "x": 3 that is not bucket -> count$/],
    ['a bad date', broken((data) => (data['start_time'] = 'yesterday')), /"start_time" is missing or not a date$/],
    // Read by the model rtlat cyclictest runs: what cyclictest itself would not have run, no run of it wrote.
    ['a priority cyclictest refuses', broken((data) => (data['cmdline:'] = 'cyclictest -m -p 120 -l 5')), /^"cmdline:" is not a command line cyclictest runs: -p 120: .*priority.*$/],
    ['an option cyclictest does not have', broken((data) => (data['cmdline:'] = 'cyclictest -m --no-such-option -l 5')), /^"cmdline:" is not a command line cyclictest runs: .*no-such-option.*$/],
    ['a command line that only asks for help', broken((data) => (data['cmdline:'] = 'cyclictest --help')), /^"cmdline:" asks for cyclictest's help, with which cyclictest measures nothing$/],
  ];
  for (const [what, text, message] of cases) {
    it(`refuses ${what} in one line`, () => {
      expect(() => importCyclictestJson(text, OPTIONS)).toThrow(message);
      try {
        parseCyclictestJson(text);
      } catch (error) {
        expect((error as Error).message).not.toContain('\n');
        expect((error as Error).message.startsWith('not a cyclictest --json file: ')).toBe(true);
      }
    });
  }
});

describe('importCyclictestJson: a thread that never woke', () => {
  it('reads cyclictest\'s "-nan" average (0/0) as a thread with no samples', () => {
    // What cyclictest 2.40 writes when thread 0 reaches -l before thread 1 wakes once (seen under load).
    const data = JSON.parse(fixture('run.json')) as { thread: Record<string, Record<string, unknown>> };
    data.thread['1'] = { ...data.thread['1'], cycles: 0, min: 1000000, max: 0 };
    const text = JSON.stringify(data).replace(/"avg":18.7/, '"avg": -nan');
    expect(text).toContain('-nan');
    const run = importCyclictestJson(text, OPTIONS);
    expect(run.threads[1]).toMatchObject({ count: 0, avgNs: 0 });
    expect(run.threads[0]!.count).toBe(2000);
  });
});
