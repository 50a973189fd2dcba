// Run files built by hand with known numbers, for the output formats and the schema.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { encodeHistogram, newHistogram, percentilesOf } from '../../src/engine/histogram.js';
import { partsOf, summarizeExplained } from '../../src/measurement/explain/summary.js';
import { RUN_SCHEMA, RUN_SCHEMA_VERSION, type ExplainedWakeup, type ExplainSegment, type MicrosecondHistogram, type RunExplain, type RunFile, type RunThread } from '../../src/run-file/schema.js';

/** Real cyclictest 2.40 outputs (see its README). */
export const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/cyclictest');

export function fixture(name: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8');
}

export function handBuiltThread(overrides: Partial<RunThread> & Pick<RunThread, 'thread'>): RunThread {
  const histogram = newHistogram();
  histogram.recordValueWithCount(14_000, 10);
  return {
    cpu: overrides.thread,
    tid: 1000 + overrides.thread,
    periodNs: 200_000,
    applied: { policy: 'fifo', priority: 99, cpus: [overrides.thread] },
    memoryLocked: true,
    pageFaults: 0,
    count: 10,
    minNs: 14_000,
    avgNs: 14_000,
    maxNs: 14_000,
    lastNs: 14_000,
    overruns: 0,
    dropped: 0,
    percentiles: percentilesOf(histogram),
    corrected: { count: 10, maxNs: 14_000, percentiles: percentilesOf(histogram) },
    histogram: encodeHistogram(histogram),
    correctedHistogram: encodeHistogram(histogram),
    microsecondHistogram: null,
    ...overrides,
    // cyclictest's Avg, the truncated mean, as a sum over the samples.
    sumUs: overrides.sumUs ?? Math.trunc((overrides.avgNs ?? 14_000) / 1_000) * (overrides.count ?? 10),
  };
}

export function handBuiltRun(threads: RunThread[], overrides: Partial<RunFile> = {}): RunFile {
  const all = newHistogram();
  all.recordValueWithCount(14_000, 10);
  return {
    schema: RUN_SCHEMA,
    schemaVersion: RUN_SCHEMA_VERSION,
    tool: { name: 'rtlat', version: '0.1.0' },
    rtlatVersion: '0.1.0',
    commandLine: 'rtlat measure --cpus 0,1 --period 200us --loops 5000 --format cyclictest',
    startTime: '2026-11-27T06:16:32.000Z',
    endTime: '2026-11-27T06:16:33.125Z',
    config: {
      periodNs: 200_000,
      policy: 'fifo',
      priority: 99,
      clock: 'monotonic',
      distanceNs: 500_000,
      aligned: false,
      loops: 5000,
      durationNs: null,
      cpus: threads.map((thread) => thread.cpu),
      lockMemory: true,
      dmaLatency: true,
      allowDegraded: false,
      spikeThresholdNs: null,
      breakThresholdNs: null,
      histogramMaxUs: threads[0]?.microsecondHistogram?.maxUs ?? null,
    },
    environment: null,
    degraded: [],
    dmaLatencyHeld: true,
    stoppedBy: 'completed',
    breaktrace: null,
    threads,
    all: {
      count: threads.reduce((total, thread) => total + thread.count, 0),
      minNs: Math.min(...threads.map((thread) => thread.minNs)),
      avgNs: 14_000,
      maxNs: Math.max(...threads.map((thread) => thread.maxNs)),
      overruns: 0,
      dropped: 0,
      percentiles: percentilesOf(all),
      histogram: encodeHistogram(all),
    },
    spikes: [{ thread: 0, cpu: 0, cycle: 17, latencyNs: 120_999, dueNs: 3_600_000 }],
    spikesOmitted: 0,
    load: null,
    during: null,
    hostEnvironment: null,
    guest: null,
    ...overrides,
  };
}

/** The numbers of summary-2threads.txt, in ns that truncate to them. */
export function summaryFixtureRun(): RunFile {
  return handBuiltRun([
    handBuiltThread({ thread: 0, tid: 6821, periodNs: 200_000, count: 5000, minNs: 7_999, lastNs: 13_500, avgNs: 14_700, maxNs: 120_999 }),
    handBuiltThread({ thread: 1, tid: 6822, periodNs: 700_000, count: 1451, minNs: 8_000, lastNs: 17_001, avgNs: 15_600, maxNs: 942_500 }),
  ]);
}

/** The buckets of histogram-h100.txt (4,000 loops, one overflow of 112us at cycle 2050). */
export function histogramFixtureRun(): RunFile {
  const buckets = new Array<number>(100).fill(0);
  const counts: Record<number, number> = {
    9: 7, 10: 4, 11: 4, 12: 342, 13: 1898, 14: 1221, 15: 333, 16: 105, 17: 39, 18: 15, 19: 12, 20: 7,
    21: 3, 22: 3, 24: 1, 32: 1, 36: 1, 43: 1, 56: 1, 76: 1,
  };
  for (const [us, count] of Object.entries(counts)) buckets[Number(us)] = count;
  const microsecondHistogram: MicrosecondHistogram = { maxUs: 100, buckets, overflows: 1, overflowCycles: [2050] };
  return handBuiltRun([
    // With an overflow the mean is estimated: floor((13,900 - 500) / 1000) = 13.
    handBuiltThread({ thread: 0, periodNs: 500_000, count: 4000, minNs: 9_300, avgNs: 13_900, maxNs: 112_400, microsecondHistogram }),
  ]);
}

function explainedWakeup(thread: number, cycle: number, segments: ExplainSegment[]): ExplainedWakeup {
  const latencyNs = segments.reduce((sum, segment) => sum + segment.ns, 0);
  return { thread, cpu: thread, cycle, dueNs: cycle * 200_000, latencyNs, complete: true, parts: partsOf(segments), segments };
}

/** An explain section of two wake-ups: one held up by a real-time thread, one by a softirq and a late timer. */
export function handBuiltExplain(): RunExplain {
  const wakeups = [
    explainedWakeup(0, 17, [
      { part: 'irqHandlerDelay', offsetNs: 0, ns: 9_000, culprit: null },
      { part: 'timerIrq', offsetNs: 9_000, ns: 3_000, culprit: 'local_timer' },
      { part: 'threadInterference', offsetNs: 12_000, ns: 100_000, culprit: 'rtlat-burst (pid 4242)' },
      { part: 'contextSwitch', offsetNs: 112_000, ns: 8_999, culprit: null },
    ]),
    explainedWakeup(1, 5, [
      { part: 'irqHandlerDelay', offsetNs: 0, ns: 40_000, culprit: null },
      { part: 'timerIrq', offsetNs: 40_000, ns: 2_500, culprit: 'local_timer' },
      { part: 'softirqInterference', offsetNs: 42_500, ns: 25_000, culprit: 'NET_RX' },
      { part: 'contextSwitch', offsetNs: 67_500, ns: 3_000, culprit: null },
    ]),
  ];
  return {
    epochNs: 5_000_000_000_000,
    selection: { thresholdNs: null, percentile: 99.9, maxPerThread: 1000 },
    trace: {
      instance: 'rtlat-4000',
      clock: 'mono',
      reader: 'trace_pipe_raw',
      events: ['sched:sched_switch', 'sched:sched_wakeup'],
      missingEvents: [],
      bufferKbPerCpu: 2048,
      perCpu: [
        { cpu: 0, events: 120_000, bytes: 5_000_000, lostEvents: 0 },
        { cpu: 1, events: 110_000, bytes: 4_800_000, lostEvents: 12 },
      ],
      lostEvents: 12,
    },
    threads: [
      { thread: 0, cpu: 0, tid: 1000, thresholdNs: 60_000, above: 1, explained: 1, incomplete: 0 },
      { thread: 1, cpu: 1, tid: 1001, thresholdNs: 60_000, above: 1, explained: 1, incomplete: 0 },
    ],
    summary: summarizeExplained(wakeups),
    tasks: [{ pid: 4242, comm: 'rtlat-burst', policy: 'fifo', priority: 95 }],
    wakeups,
  };
}
