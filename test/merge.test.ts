// rtlat merge: two halves of a known run add up to the whole run, exactly; threads meet by CPU; cycles and
// due times continue; runs of different configurations are refused in one line.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mergeRuns, MergeRefused } from '../src/run-file/merge.js';
import { decodeHistogram } from '../src/engine/histogram.js';
import { importCyclictestJson } from '../src/import/cyclictest.js';
import type { RunFile } from '../src/run-file/schema.js';
import { rtlat, scratchDir } from './helpers/cli.js';
import { fingerprintFor, inputsOf, range, runOf, threadOf, writeRuns } from './helpers/compare-runs.js';
import { fixture } from './helpers/runs.js';
import { schemaProblems } from './helpers/schema.js';

const META = { rtlatVersion: '9.9.9', commandLine: 'rtlat merge first.json second.json -o merged.json' };
const environment = fingerprintFor('kvm', 'RT');

// 1..100,000 ns in one run, and the same samples split over two runs a minute apart.
const whole = runOf([threadOf(0, range(1, 100_000))], { environment });
const first = runOf([threadOf(0, range(1, 50_000))], { environment, startTime: '2026-11-27T06:00:00.000Z', endTime: '2026-11-27T06:00:10.000Z' });
const second = runOf([threadOf(0, range(50_001, 100_000))], { environment, startTime: '2026-11-27T06:01:00.000Z', endTime: '2026-11-27T06:01:10.000Z' });

function merge(runs: Record<string, RunFile>) {
  return mergeRuns(inputsOf(runs), META);
}

describe('mergeRuns', () => {
  it('adds two halves into the whole: counts, min, max, mean and every percentile exactly', () => {
    const { run, notes } = merge({ second, first });
    expect(notes).toEqual([]);
    const [thread] = run.threads;
    const [expected] = whole.threads;
    for (const key of ['count', 'minNs', 'maxNs', 'avgNs', 'sumUs', 'percentiles', 'overruns', 'dropped', 'corrected'] as const) {
      expect(thread![key], key).toEqual(expected![key]);
    }
    // Later run's last sample is the merged run's last; the runs were put in time order first.
    expect(thread!.lastNs).toBe(100_000);
    const merged = decodeHistogram(thread!.histogram!);
    const reference = decodeHistogram(expected!.histogram!);
    expect(merged.totalCount).toBe(100_000);
    for (const percentile of [0, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 99.999, 100]) {
      expect(merged.getValueAtPercentile(percentile), `p${percentile}`).toBe(reference.getValueAtPercentile(percentile));
    }
    expect(run.all).toMatchObject({ count: 100_000, minNs: 1, maxNs: 100_000, avgNs: 50_000.5, percentiles: whole.all.percentiles });
  });

  it('keeps the configuration, times and environment, and makes a valid run file', () => {
    const { run } = merge({ first, second });
    expect(run.commandLine).toBe(META.commandLine);
    expect(run.rtlatVersion).toBe('9.9.9');
    expect([run.startTime, run.endTime]).toEqual(['2026-11-27T06:00:00.000Z', '2026-11-27T06:01:10.000Z']);
    // These parts were written without mainCpus, the start offsets and loopsEndAll (as files from before they
    // existed): absent reads as null, and false.
    expect(run.config).toEqual({ ...whole.config, mainCpus: null, alignOffsetNs: null, staggerNs: null, loopsEndAll: false, loops: 10_000 });
    // One part that ended at its first thread's loops makes the merged threads' counts uneven too.
    const uneven = merge({ first: { ...first, config: { ...first.config, loopsEndAll: true } }, second }).run;
    expect(uneven.config.loopsEndAll).toBe(true);
    expect(run.environment).toEqual(environment);
    expect(schemaProblems(run)).toBe('');
  });

  it('merges threads by CPU and period, numbering them in order of appearance', () => {
    const a = runOf([threadOf(0, range(1, 100)), threadOf(1, range(1, 200))]);
    const b = runOf([threadOf(0, range(1, 300), { cpu: 1 }), threadOf(1, range(1, 400), { cpu: 2 })], { startTime: '2026-11-27T07:00:00.000Z' });
    const { run } = merge({ a, b });
    expect(run.threads.map((thread) => [thread.thread, thread.cpu, thread.count])).toEqual([[0, 0, 100], [1, 1, 500], [2, 2, 400]]);
    expect(run.config.cpus).toEqual([0, 1, 2]);
    expect(run.all.count).toBe(1_000);
  });

  it('continues cycles and due times across runs: spikes and overflow cycles point into the merged run', () => {
    const spikeConfig = { ...first.config, spikeThresholdNs: 40_000, histogramMaxUs: 30 };
    const withHistogram = (run: RunFile, overflowCycles: number[]) => ({
      ...run,
      config: spikeConfig,
      threads: run.threads.map((thread) => ({ ...thread, microsecondHistogram: { maxUs: 30, buckets: new Array<number>(30).fill(1), overflows: overflowCycles.length, overflowCycles } })),
    });
    const a = { ...withHistogram(first, [29_999]), spikes: [{ thread: 0, cpu: 0, cycle: 40_000, latencyNs: 40_001, dueNs: 8_000_000_000 }] };
    const b = { ...withHistogram(second, [7]), spikes: [{ thread: 0, cpu: 0, cycle: 5, latencyNs: 50_006, dueNs: 1_000_000 }] };
    const { run } = merge({ b, a });
    expect(run.spikes).toEqual([
      { thread: 0, cpu: 0, cycle: 40_000, latencyNs: 40_001, dueNs: 8_000_000_000 },
      // b began 60 s after a, and after a's 50,000 wake-ups.
      { thread: 0, cpu: 0, cycle: 50_005, latencyNs: 50_006, dueNs: 60_001_000_000 },
    ]);
    expect(run.threads[0]!.microsecondHistogram).toEqual({ maxUs: 30, buckets: new Array<number>(30).fill(2), overflows: 2, overflowCycles: [29_999, 50_007] });
  });

  it('says what it could not keep: spikes under different thresholds, environments that differ in detail', () => {
    const detailed = structuredClone(environment);
    detailed.timing.timerSlackNs = { value: 1, source: 'test' };
    const a = { ...first, config: { ...first.config, spikeThresholdNs: 10_000 } };
    const b = { ...second, config: { ...second.config, spikeThresholdNs: 20_000 }, environment: detailed };
    const { run, notes } = merge({ a, b });
    expect(notes).toEqual(['spike thresholds differ: the merged file lists no spikes', 'the environments differ in details: the merged file keeps a.json\'s']);
    expect([run.spikes, run.config.spikeThresholdNs]).toEqual([[], null]);
  });

  it('adds cyclictest imports: histograms when both kept one, none when either did not', () => {
    const kept = importCyclictestJson(fixture('run-histogram.json'), { rtlatVersion: 'test' });
    const { run } = merge({ a: kept, b: { ...kept, startTime: '2030-01-01T00:00:00.000Z' } });
    expect(run.tool.name).toBe('cyclictest');
    expect(run.threads[0]!.count).toBe(2 * kept.threads[0]!.count);
    // Each kept its one -h overflow beyond its histogram: so does the merged run, and its p99.99 stays a bound.
    expect(decodeHistogram(run.threads[0]!.histogram!).totalCount).toBe(2 * (kept.threads[0]!.count - 1));
    expect(run.threads[0]!.beyondHistogram).toEqual({ count: 2, fromNs: 60_000 });
    expect(run.all.percentiles.at(-1)).toEqual({ percentile: 99.99, valueNs: 60_000, reliable: false, atLeast: true });
    expect(schemaProblems(run)).toBe('');
    const bare = importCyclictestJson(fixture('run.json'), { rtlatVersion: 'test' });
    const { run: merged, notes } = merge({ a: bare, b: { ...bare, startTime: '2030-01-01T00:00:00.000Z' } });
    expect(notes).toEqual([]);
    expect([merged.threads[0]!.histogram, merged.threads[0]!.percentiles, merged.all.percentiles]).toEqual([null, [], []]);
    expect(merged.threads.map((thread) => thread.count)).toEqual(bare.threads.map((thread) => 2 * thread.count));
  });

  it.each([
    ['period', { config: { ...first.config, periodNs: 1_000_000 } }, 'period differs: 200us (a.json), 1ms (b.json): only runs of one configuration merge'],
    ['priority', { config: { ...first.config, priority: 50 } }, 'policy differs: fifo 99 (a.json), fifo 50 (b.json): only runs of one configuration merge'],
    ['clock', { config: { ...first.config, clock: 'realtime' } }, 'clock differs: monotonic (a.json), realtime (b.json): only runs of one configuration merge'],
    ['load', { load: { spec: 'ipc', cpus: [1], generators: [] } }, 'load differs: none (a.json), ipc (b.json): only runs of one configuration merge'],
    ['environment', { environment: fingerprintFor('xen', 'RT') }, 'environment differs: guest kvm / PREEMPT_RT (a.json), guest xen pvh / PREEMPT_RT (b.json): only runs of one configuration merge'],
  ] as [string, Partial<RunFile>, string][])('refuses runs that differ in %s', (_, change, message) => {
    expect(() => merge({ a: first, b: { ...second, ...change } })).toThrow(new MergeRefused(message));
  });
});

describe('rtlat merge', () => {
  const dir = scratchDir();
  const [firstFile, secondFile, otherFile] = writeRuns(dir, { first, second, other: { ...second, config: { ...second.config, clock: 'realtime' } } });

  it('writes the merged run file', () => {
    const output = path.join(dir, 'merged.json');
    const outcome = rtlat(['merge', firstFile!, secondFile!, '-o', output]);
    expect(outcome).toMatchObject({ status: 0, stdout: '', stderr: '' });
    const run = JSON.parse(readFileSync(output, 'utf8')) as RunFile;
    expect(run.all.count).toBe(100_000);
    expect(run.commandLine).toBe(`rtlat merge ${firstFile} ${secondFile} -o ${output}`);
    expect(schemaProblems(run)).toBe('');
  });

  it.each([
    [() => [firstFile!, otherFile!], /^rtlat merge: clock differs: monotonic \(first\.json\), realtime \(other\.json\): only runs of one configuration merge$/],
    [() => [firstFile!], /^rtlat merge: got 1 run file; merge needs two or more$/],
    [() => [firstFile!, path.join(dir, 'absent.json')], /^rtlat merge: cannot read ".*absent\.json" \(ENOENT\)$/],
  ])('refuses in one line with exit 2 and writes nothing (%#)', (files, message) => {
    const output = path.join(dir, 'refused.json');
    const outcome = rtlat(['merge', ...files(), '-o', output]);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(outcome.stderr.trimEnd()).toMatch(message);
    expect(existsSync(output)).toBe(false);
  });
});
