// The CI verdict: bounds that must pass and bounds that must fail on the same run file, the lines it
// prints, a percentile with too few samples failing rather than passing, and `rtlat measure` exiting 5
// after it has written every output.
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeHistogram, newHistogram, percentilesOf } from '../src/engine/histogram.js';
import { judgeRun, parseFailAbove, type VerdictRules } from '../src/measurement/verdict.js';
import type { RunFile, RunThread } from '../src/run-file/schema.js';
import { rtlat, scratchDir } from './helpers/cli.js';
import { handBuiltRun, handBuiltThread } from './helpers/runs.js';

/** A thread of 200,000 wake-ups: 199,970 at 10us, 29 at 45us and one at 133.2us. */
function tailThread(thread: number, cpu: number): { thread: RunThread; values: [number, number][] } {
  const values: [number, number][] = [
    [10_000, 199_970],
    [45_000, 29],
    [133_200, 1],
  ];
  const histogram = newHistogram();
  for (const [ns, count] of values) histogram.recordValueWithCount(ns, count);
  return {
    values,
    thread: handBuiltThread({ thread, cpu, count: 200_000, minNs: 10_000, maxNs: 133_200, avgNs: 10_000, histogram: encodeHistogram(histogram), percentiles: percentilesOf(histogram) }),
  };
}

function tailRun(): RunFile {
  const threads = [tailThread(0, 0), tailThread(1, 1)];
  const all = newHistogram();
  for (const { values } of threads) for (const [ns, count] of values) all.recordValueWithCount(ns, count);
  return handBuiltRun(
    threads.map(({ thread }) => thread),
    { all: { count: 400_000, minNs: 10_000, avgNs: 10_000, maxNs: 133_200, overruns: 0, dropped: 0, percentiles: percentilesOf(all), histogram: encodeHistogram(all) } },
  );
}

const rules = (failAbove: string, more: Partial<VerdictRules> = {}): VerdictRules => ({ bounds: parseFailAbove(failAbove), failOnDropped: false, failOnDegraded: false, ...more });

describe('judgeRun', () => {
  const run = tailRun();

  it('passes bounds the run keeps, on the same run file that fails the others', () => {
    expect(judgeRun(run, rules('max=140us,p99.99=50us,p99=30us'))).toEqual([]);
    expect(judgeRun(run, rules('max=100us,p99.99=40us,p99=30us'))).toEqual([
      'FAIL: cpu0 max 133.2us > 100us',
      'FAIL: cpu1 max 133.2us > 100us',
      'FAIL: all max 133.2us > 100us',
      'FAIL: cpu0 p99.99 45.0us > 40us',
      'FAIL: cpu1 p99.99 45.0us > 40us',
      'FAIL: all p99.99 45.0us > 40us',
    ]);
  });

  it('fails a percentile bound that has too few samples to mean anything, saying so', () => {
    const short = handBuiltRun([handBuiltThread({ thread: 0 })]);
    expect(judgeRun(short, rules('p99.99=1s'))).toEqual(['FAIL: cpu0 p99.99: too few samples (10; p99.99 needs 100000) to hold it to 1s']);
    expect(judgeRun(short, rules('max=1s'))).toEqual([]);
    const empty = handBuiltRun([handBuiltThread({ thread: 0, count: 0 })]);
    expect(judgeRun(empty, rules('max=1s'))).toEqual(['FAIL: cpu0 max: no samples to hold to 1s']);
  });

  it('names threads that share a CPU, and fails on dropped samples and a degraded set-up when asked', () => {
    const shared = handBuiltRun([handBuiltThread({ thread: 0, cpu: 1, dropped: 3 }), handBuiltThread({ thread: 1, cpu: 1 })], { degraded: ['SCHED_FIFO priority 99 (EPERM)'] });
    expect(judgeRun(shared, rules('max=1s'))).toEqual([]);
    expect(judgeRun(shared, { bounds: [], failOnDropped: true, failOnDegraded: true })).toEqual([
      'FAIL: thread 0 (cpu1) dropped 3 samples (the ring was full)',
      'FAIL: degraded: not permitted: SCHED_FIFO priority 99 (EPERM)',
    ]);
  });

  it('reads bounds as max or any percentile with a duration, and refuses anything else in one line', () => {
    expect(parseFailAbove('max=100us,p99.99=40,p50=1ms')).toEqual([
      { name: 'max', percentile: null, limitNs: 100_000 },
      { name: 'p99.99', percentile: 99.99, limitNs: 40_000 },
      { name: 'p50', percentile: 50, limitNs: 1_000_000 },
    ]);
    for (const bad of ['max', 'p100=1us', 'p0=1us', 'avg=1us', 'max=1us,max=2us', 'max=fast', '']) {
      expect(() => parseFailAbove(bad), bad).toThrow(/^fail-above: got .*, expected bounds such as max=100us,p99.99=40us,p99=30us/);
    }
  });
});

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('rtlat measure --fail-above (needs root)', () => {
  const dir = scratchDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 within its bounds, and 5 with one line per broken bound after writing every output', () => {
    const pass = rtlat(['measure', '--period', '500us', '--loops', '200', '--cpus', '0', '-q', '--fail-above', 'max=10s,p50=10s']);
    expect(pass.status, pass.stderr).toBe(0);
    expect(pass.stderr).not.toContain('FAIL');
    const json = path.join(dir, 'run.json');
    const fail = rtlat(['measure', '--period', '500us', '--loops', '200', '--cpus', '0,1', '-q', '--json', json, '--fail-above', 'max=1ns,p99.99=10s']);
    expect(fail.status).toBe(5);
    expect(existsSync(json)).toBe(true);
    // The summary table was printed, and the run file written, before the verdict.
    expect(fail.stdout).toMatch(/^all +- +- +400 /m);
    expect(fail.stderr.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(/^FAIL: cpu0 max \d+\.\dus > 1ns$/),
      expect.stringMatching(/^FAIL: cpu1 max \d+\.\dus > 1ns$/),
      expect.stringMatching(/^FAIL: all max \d+\.\dus > 1ns$/),
      'FAIL: cpu0 p99.99: too few samples (200; p99.99 needs 100000) to hold it to 10s',
      'FAIL: cpu1 p99.99: too few samples (200; p99.99 needs 100000) to hold it to 10s',
      'FAIL: all p99.99: too few samples (400; p99.99 needs 100000) to hold it to 10s',
    ]);
  });

  it('refuses bad bounds before measuring (exit 2)', () => {
    const outcome = rtlat(['measure', '--loops', '10', '--fail-above', 'p99.9']);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toMatch(/^rtlat measure: --fail-above: got "p99.9", expected bounds such as /);
  });
});
