// `rtlat sweep`: the overrun share and the timer-resolution estimate on runs with known numbers,
// then real sweeps whose run files are checked against the schema and against each other.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { estimateTimerResolution, sweepPoint, type SweepPoint } from '../src/measurement/sweep.js';
import { describeEstimate, formatSweepSummary } from '../src/outputs/sweep.js';
import { encodeHistogram, newHistogram } from '../src/engine/histogram.js';
import type { RunFile } from '../src/run-file/schema.js';
import { usableCpus } from '../src/engine/system.js';
import { rtlat, scratchDir } from './helpers/cli.js';
import { handBuiltRun, handBuiltThread } from './helpers/runs.js';
import { schemaProblems } from './helpers/schema.js';

const isRoot = process.getuid?.() === 0;
const cpuList = usableCpus().allowed.slice(0, 2).join(',');

/** A run at `periodNs` whose samples are `latenciesNs` (each once). */
function runWith(periodNs: number, latenciesNs: number[], load: RunFile['load'] = null): RunFile {
  const histogram = newHistogram();
  for (const latencyNs of latenciesNs) histogram.recordValue(latencyNs);
  const run = handBuiltRun([handBuiltThread({ thread: 0, periodNs })], { load });
  run.config.periodNs = periodNs;
  run.all = { ...run.all, count: latenciesNs.length, minNs: Math.min(...latenciesNs), maxNs: Math.max(...latenciesNs), histogram: encodeHistogram(histogram) };
  return run;
}

/** A point with `exceeding` of 1,000 samples later than the period, the others at `minNs`. */
function pointWith(periodNs: number, exceeding: number, minNs: number): SweepPoint {
  return sweepPoint(runWith(periodNs, [...Array(1000 - exceeding).fill(minNs), ...Array(exceeding).fill(periodNs + minNs)]));
}

const US = 1_000;

describe('the share of wake-ups later than the period', () => {
  it('counts the samples above the period, not those at it', () => {
    const point = sweepPoint(runWith(100 * US, [10 * US, 99 * US, 100 * US, 101 * US, 150 * US, 5_000 * US, 20 * US, 30 * US]));
    expect(point.exceedingShare).toBe(3 / 8);
    expect(point.periodNs).toBe(100 * US);
    expect(point.load).toBeNull();
  });

  it('is 0 for a run without samples', () => {
    const run = runWith(100 * US, [1]);
    run.all.histogram = encodeHistogram(newHistogram());
    expect(sweepPoint(run).exceedingShare).toBe(0);
  });
});

describe('the timer-resolution estimate', () => {
  it('finds where latencies stop exceeding the period, and the floor of the minimum', () => {
    // A guest that will not arm a timer closer than ~100us: 50us and 100us late, 200us on not.
    const estimate = estimateTimerResolution([pointWith(1_000 * US, 0, 110 * US), pointWith(50 * US, 990, 104 * US), pointWith(200 * US, 3, 103 * US), pointWith(100 * US, 700, 101 * US), pointWith(500 * US, 0, 102 * US)]);
    expect(estimate).toEqual({ resolvedFromNs: 200 * US, exceededUpToNs: 100 * US, shortestPeriodNs: 50 * US, longestPeriodNs: 1_000 * US, minLatencyFloorNs: 101 * US });
    expect(describeEstimate(estimate)).toBe(
      'latencies exceed the period up to 100us and stop at 200us (fewer than 1% of wake-ups later than the period from there on); lowest minimum latency 101.0us',
    );
  });

  it('a period exceeded again after a good one moves the estimate up', () => {
    const estimate = estimateTimerResolution([pointWith(50 * US, 900, 9 * US), pointWith(100 * US, 0, 9 * US), pointWith(200 * US, 20, 9 * US), pointWith(1_000 * US, 0, 9 * US)]);
    expect(estimate.resolvedFromNs).toBe(1_000 * US);
    expect(estimate.exceededUpToNs).toBe(200 * US);
  });

  it('says so when no period was exceeded, or every one was', () => {
    const none = estimateTimerResolution([pointWith(50 * US, 9, 7 * US), pointWith(1_000 * US, 0, 8 * US)]);
    expect(describeEstimate(none)).toBe('no period was exceeded (fewer than 1% of wake-ups later than the period from 50us on); lowest minimum latency 7.0us');
    const all = estimateTimerResolution([pointWith(50 * US, 500, 7 * US), pointWith(100 * US, 10, 8 * US)]);
    expect(all.resolvedFromNs).toBeNull();
    expect(describeEstimate(all)).toBe('latencies exceed the period at every period up to 100us (1% or more of wake-ups later than it); lowest minimum latency 7.0us');
  });

  it('the summary has a row per run and an estimate per condition', () => {
    const load = { spec: 'syscalls', cpus: [0], generators: [] };
    const points = [
      pointWith(50 * US, 1000, 104 * US),
      sweepPoint(runWith(50 * US, [200 * US, 300 * US], load)),
      pointWith(100 * US, 0, 20 * US),
      sweepPoint(runWith(100 * US, [30 * US, 300 * US], load)),
    ];
    const lines = formatSweepSummary(points).trimEnd().split('\n');
    expect(lines[0]!.trim().split(/\s+/)).toEqual(['period', 'load', 'count', 'min', 'p50', 'p99', 'p99.9', 'max', '>period', 'overruns']);
    expect(lines.slice(1, 5).map((line) => line.trim().split(/\s+/).slice(0, 3))).toEqual([
      ['50us', 'none', '1000'],
      ['50us', 'load', '2'],
      ['100us', 'none', '1000'],
      ['100us', 'load', '2'],
    ]);
    expect(lines[1]!.trim().split(/\s+/)[8]).toBe('100.00%');
    expect(lines[4]!.trim().split(/\s+/)[8]).toBe('50.00%');
    expect(lines[5]).toMatch(/^timer resolution without load: latencies exceed the period up to 50us and stop at 100us /);
    expect(lines[6]).toMatch(/^timer resolution with load: latencies exceed the period at every period up to 100us /);
    expect(lines).toHaveLength(7);
  });
});

describe('bad sweep input: one line, exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['a period of 0', ['--periods', '0,1ms'], /^rtlat sweep: --periods: got "0", expected a duration/],
    ['a bad unit', ['--periods', '50us,1xs'], /^rtlat sweep: --periods: got "1xs"/],
    ['a period twice', ['--periods', '1ms,1000us'], /^rtlat sweep: --periods: got "1ms,1000us", expected each period once$/],
    ['a bad duration', ['--duration', '5us'], /^rtlat sweep: --duration: got "5us"/],
    ['JSON in a missing folder', ['--json', '/nonexistent/dir/x.json'], /^rtlat sweep: --json: got "\/nonexistent\/dir\/x.json", expected a file path/],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const outcome = rtlat(['sweep', '--periods', '1ms', '--duration', '100ms', ...args]);
      expect(outcome.status).toBe(2);
      expect(outcome.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(outcome.stderr.trimEnd()).toMatch(message);
    });
  }
});

function readRun(file: string): RunFile {
  return JSON.parse(readFileSync(file, 'utf8')) as RunFile;
}

/** The configuration that must be the same in runs of one sweep: all of it but the period. */
function sharedConfig(run: RunFile): object {
  const { periodNs, ...rest } = run.config;
  return { ...rest, threads: run.threads.map((thread) => ({ cpu: thread.cpu, applied: thread.applied })) };
}

describe.skipIf(!isRoot)('sweeping for real (needs root: run the tests as root, as CI does)', () => {
  it('three periods: three comparable run files and the summary', () => {
    const dir = scratchDir();
    const outcome = rtlat(['sweep', '--periods', '1ms,200us,500us', '--duration', '1s', '--cpus', cpuList, '--json', dir]);
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['sweep-1ms.json', 'sweep-200us.json', 'sweep-500us.json']);
    const runs = ['200us', '500us', '1ms'].map((label) => readRun(path.join(dir, `sweep-${label}.json`)));
    expect(runs.map((run) => run.config.periodNs)).toEqual([200 * US, 500 * US, 1_000 * US]);
    for (const run of runs) {
      expect(schemaProblems(run)).toBe('');
      expect(sharedConfig(run)).toEqual(sharedConfig(runs[0]!));
      expect(run.config.durationNs).toBe(1_000_000_000);
      expect(run.stoppedBy).toBe('completed');
      expect(run.load).toBeNull();
      expect(run.commandLine).toContain('rtlat sweep --periods 1ms,200us,500us');
      expect(run.all.count).toBeGreaterThan(0);
    }

    const lines = outcome.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^rtlat \\S+ sweep: 3 periods, 1s each, policy fifo 99, 2 threads on CPUs ${cpuList.replace(',', '-')}; latencies in us$`));
    const rows = lines.slice(2, 5).map((line) => line.trim().split(/\s+/));
    expect(rows.map((row) => row[0])).toEqual(['200us', '500us', '1ms']);
    expect(rows.map((row) => Number(row[2]))).toEqual(runs.map((run) => run.all.count));
    expect(rows.map((row) => Number(row[9]))).toEqual(runs.map((run) => run.all.overruns));
    expect(lines[5]).toMatch(/^timer resolution: .*; lowest minimum latency \d+\.\dus$/);
    expect(lines).toHaveLength(6);

    // rtlat compare reads them side by side; the period is all that differs.
    const compared = rtlat(['compare', ...['200us', '500us', '1ms'].map((label) => path.join(dir, `sweep-${label}.json`))]);
    expect(compared.status, compared.stderr).toBe(0);
    for (const label of ['200us', '500us', '1ms']) expect(compared.stdout).toContain(`sweep-${label}.json`);
    expect(compared.stdout.split('\n').filter((line) => line.startsWith('warning: '))).toEqual([expect.stringMatching(/^warning: period differs: /)]);
  });

  it('with and without load: each period twice, the load recorded only where it ran', () => {
    const dir = scratchDir();
    const report = path.join(dir, 'tr.html');
    const outcome = rtlat(['sweep', '--periods', '1ms,2ms', '--duration', '1s', '--cpus', cpuList, '--load', 'syscalls', '--with-and-without-load', '--json', path.join(dir, 'tr.json'), '--report', report]);
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['tr-1ms-load.json', 'tr-1ms-noload.json', 'tr-2ms-load.json', 'tr-2ms-noload.json', 'tr.html']);
    // The report plots latency against period: p50, p99 and max for each condition, and the line latency = period.
    const html = readFileSync(report, 'utf8');
    const plot = /<svg class="plot period-plot"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '';
    const labels = [...plot.matchAll(/<g class="series" data-label="([^"]+)"/g)].map((match) => match[1]);
    expect(labels).toEqual(['latency = period', 'p50, no load', 'p99, no load', 'max, no load', 'p50, load syscalls', 'p99, load syscalls', 'max, load syscalls']);
    for (const period of ['1ms', '2ms']) {
      const without = readRun(path.join(dir, `tr-${period}-noload.json`));
      const loaded = readRun(path.join(dir, `tr-${period}-load.json`));
      expect(without.load).toBeNull();
      expect(loaded.load!.spec).toBe('syscalls');
      expect(loaded.load!.generators.every((generator) => generator.kind === 'syscalls' && generator.operations > 0)).toBe(true);
      expect(schemaProblems(loaded)).toBe('');
      expect(sharedConfig(loaded)).toEqual(sharedConfig(without));
    }
    expect(outcome.stdout).toMatch(/, load syscalls on CPUs [\d,-]+; latencies in us\n/);
    expect(outcome.stdout).toMatch(/^timer resolution without load: /m);
    expect(outcome.stdout).toMatch(/^timer resolution with load: /m);
    expect(existsSync(path.join(dir, 'tr.json'))).toBe(false);
  });
});
