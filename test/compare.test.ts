// rtlat compare on generated runs whose every sample is known: the numbers, the ratios to the baseline,
// the honest tails, the warnings, the labels, and the four output formats, as functions and as a command.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareRuns, type Comparison } from '../src/outputs/compare/compare.js';
import { labelRuns } from '../src/run-file/environment.js';
import { formatComparison } from '../src/outputs/compare/comparison-table.js';
import { importCyclictestJson } from '../src/import/cyclictest.js';
import type { RunFile } from '../src/run-file/schema.js';
import { rtlat, scratchDir } from './helpers/cli.js';
import { fingerprintFor, inputsOf, range, runOf, threadOf, writeRuns } from './helpers/compare-runs.js';
import { FIXTURES, fixture } from './helpers/runs.js';

/** HdrHistogram with 3 significant digits: a percentile is within 0.1% of the exact one. */
function expectNear(actual: number | null, expected: number): void {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected) / expected).toBeLessThan(0.001);
}

function compare(runs: Record<string, RunFile>, labels?: string[]): Comparison {
  return compareRuns(labelRuns(inputsOf(runs), labels));
}

/** RFC 4180, enough for the CSV rtlat writes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.trimEnd().split('\n')) {
    const fields: string[] = [];
    for (const match of line.matchAll(/(?:^|,)(?:"((?:[^"]|"")*)"|([^,]*))/g)) fields.push(match[1] !== undefined ? match[1].replace(/""/g, '"') : match[2]!);
    rows.push(fields);
  }
  return rows;
}

// 1..100,000 ns once each, and the same doubled: every statistic of the second is twice the first's.
const baseline = runOf([threadOf(0, range(1, 100_000))]);
const doubled = runOf([threadOf(0, range(2, 200_000, 2))]);
// 1,000 samples support p99 (1,000 needed) but not p99.9 (10,000) or p99.99 (100,000).
const short = runOf([threadOf(0, range(1_000, 1_999))]);

describe('compareRuns', () => {
  it('gives the known min, avg, max and percentiles of 1..100000 ns', () => {
    const [run] = compare({ baseline }).runs;
    const { metrics } = run!;
    expect(run!.count).toBe(100_000);
    expect(metrics.min.valueNs).toBe(1);
    expect(metrics.avg.valueNs).toBe(50_000.5);
    expect(metrics.max.valueNs).toBe(100_000);
    expectNear(metrics.p50.valueNs, 50_000);
    expectNear(metrics.p99.valueNs, 99_000);
    expectNear(metrics['p99.9'].valueNs, 99_900);
    expectNear(metrics['p99.99'].valueNs, 99_990);
    expect(Object.values(metrics).every((value) => value.reliable && value.ratio === 1)).toBe(true);
  });

  it('gives each run its ratio to the first', () => {
    const { runs, baseline: name } = compare({ baseline, doubled });
    expect(name).toBe('baseline.json');
    const { metrics } = runs[1]!;
    expect(metrics.min.ratio).toBe(2);
    expect(metrics.avg.ratio).toBe(2);
    expect(metrics.max.ratio).toBe(2);
    for (const percentile of ['p50', 'p99', 'p99.9', 'p99.99'] as const) expectNear(metrics[percentile].ratio, 2);
  });

  it('marks percentiles the sample count does not support, and gives them no ratio', () => {
    const { metrics } = compare({ baseline, short }).runs[1]!;
    expect(metrics.p99).toMatchObject({ reliable: true });
    expect(metrics.p99.ratio).not.toBeNull();
    expect(metrics['p99.9']).toMatchObject({ reliable: false, ratio: null });
    expect(metrics['p99.99']).toMatchObject({ reliable: false, ratio: null });
    const text = formatComparison(compare({ baseline, short }), 'text');
    expect(text).toMatch(/^short\.json +1000 +1\.0 +1\.5 +1\.5 +2\.0 +\(n<10k\) +\(n<100k\) +2\.0 +0$/m);
    expect(text).toContain('(n<N): too few samples for that percentile');
  });

  it('compares runs imported from cyclictest, showing "-" where they have no percentiles', () => {
    const imported = importCyclictestJson(fixture('run.json'), { rtlatVersion: 'test' });
    const comparison = compare({ baseline, imported });
    const { metrics, overruns, tool } = comparison.runs[1]!;
    expect(tool.name).toBe('cyclictest');
    expect(overruns).toBeNull();
    expect(metrics.max.valueNs).toBe(imported.all.maxNs);
    expect(metrics.max.ratio).toBe(imported.all.maxNs / 100_000);
    expect(metrics.p99).toEqual({ valueNs: null, reliable: false, ratio: null });
    const row = formatComparison(comparison, 'text').split('\n').find((line) => line.startsWith('imported.json'))!;
    expect(row.trim().split(/\s+/).slice(4, 8)).toEqual(['-', '-', '-', '-']);
    expect(row.trim().split(/\s+/).at(-1)).toBe('-');
  });

  it('warns when runs differ in period, policy, load or clock, naming which run has which', () => {
    const other = runOf([threadOf(0, range(1, 1000))], {
      config: { ...baseline.config, periodNs: 50_000, policy: 'rr', priority: 80, clock: 'realtime' },
      load: { spec: 'syscalls,ipc', cpus: [1], generators: [] },
    });
    expect(compare({ baseline, other }).warnings).toEqual([
      'period differs: 200us (baseline.json), 50us (other.json)',
      'policy differs: fifo 99 (baseline.json), rr 80 (other.json)',
      'load differs: none (baseline.json), syscalls,ipc (other.json)',
      'clock differs: monotonic (baseline.json), realtime (other.json)',
    ]);
    expect(compare({ baseline, doubled }).warnings).toEqual([]);
  });

  it('warns about degraded runs and dropped samples', () => {
    const degraded = runOf([threadOf(0, range(1, 1000))], { degraded: ['SCHED_FIFO priority 99'] });
    degraded.all.dropped = 12;
    expect(compare({ baseline, degraded }).warnings).toEqual([
      'degraded.json is a degraded run (not permitted: SCHED_FIFO priority 99)',
      'degraded.json dropped 12 samples (ring full): its percentiles leave them out',
    ]);
  });
});

describe('labels', () => {
  it('come from --label, else the environment, else the file name; equal ones get the file name', () => {
    const kvm = runOf([threadOf(0, range(1, 100))], { environment: fingerprintFor('kvm', 'RT') });
    const xen = runOf([threadOf(0, range(1, 100))], { environment: fingerprintFor('xen', 'NRT') });
    const labels = labelRuns(inputsOf({ kvm, xen, again: kvm, bare: baseline })).map((run) => run.label);
    expect(labels).toEqual(['guest kvm / PREEMPT_RT (kvm.json)', 'guest xen pvh / PREEMPT_DYNAMIC', 'guest kvm / PREEMPT_RT (again.json)', 'bare.json']);
    expect(labelRuns(inputsOf({ kvm, xen }), ['RT guest', 'NRT guest']).map((run) => run.label)).toEqual(['RT guest', 'NRT guest']);
  });
});

describe('formats', () => {
  const comparison = compare({ baseline, doubled, short }, ['base, line', 'doubled', 'short']);

  it('text: a row per run and a ratio row under each run after the first', () => {
    const lines = formatComparison(comparison, 'text').split('\n');
    expect(lines[0]).toBe('latencies in us; ratios to the baseline, base, line');
    expect(lines[1]!.split(/\s+/)).toEqual(['run', 'count', 'min', 'avg', 'p50', 'p99', 'p99.9', 'p99.99', 'max', 'overruns']);
    expect(lines[2]).toMatch(/^base, line +100000 +0\.0 +50\.0 +50\.0 +99\.0 +99\.9 +100\.0 +100\.0 +0$/);
    expect(lines[3]).toMatch(/^doubled +100000 +0\.0 +100\.0 +100\.0 +198\.\d +199\.\d +200\.\d +200\.0 +0$/);
    expect(lines[4]).toMatch(/^ {2}vs baseline +2\.00x +2\.00x +2\.00x +2\.00x +2\.00x +2\.00x +2\.00x$/);
    expect(lines[6]).toMatch(/^ {2}vs baseline +1000x +0\.03x +0\.03x +0\.02x +- +- +0\.02x$/);
  });

  it('markdown: a table with ratios in the cells, notes quoted', () => {
    const text = formatComparison(comparison, 'markdown');
    const rows = text.split('\n').filter((line) => line.startsWith('|'));
    expect(rows).toHaveLength(5);
    expect(rows[1]).toBe('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    expect(rows[2]).toMatch(/^\| \*\*base, line\*\* \(baseline\) \| 100000 \| 0\.0 \| 50\.0 \|/);
    expect(rows[3]).toContain('| 200.0 (2.00x) |');
    expect(text).toContain('> (n<N): too few samples');
  });

  it('CSV: one row per run, values in us to the ns, ratios, quoted labels', () => {
    const [header, ...rows] = parseCsv(formatComparison(comparison, 'csv'));
    expect(header).toEqual([
      'run', 'file', 'tool', 'count', 'min_us', 'avg_us', 'p50_us', 'p99_us', 'p99.9_us', 'p99.99_us', 'max_us', 'overruns',
      'min_ratio', 'avg_ratio', 'p50_ratio', 'p99_ratio', 'p99.9_ratio', 'p99.99_ratio', 'max_ratio', 'flags',
    ]);
    expect(rows.map((row) => row.length)).toEqual([20, 20, 20]);
    expect(rows[0]!.slice(0, 5)).toEqual(['base, line', 'baseline.json', 'rtlat 0.1.0', '100000', '0.001']);
    expect(rows[1]![10]).toBe('200');
    expect(rows[1]![18]).toBe('2');
    // A numeric column holds numbers only: an unsupported percentile is empty there, and flagged.
    expect(rows[2]![8]).toBe('');
    expect(rows[2]![16]).toBe('');
    expect(rows[2]![19]).toBe('p99.9:(n<10k);p99.99:(n<100k)');
    expect([rows[0]![19], rows[1]![19]]).toEqual(['', '']);
    for (const row of rows) for (const cell of [...row.slice(3, 12), ...row.slice(12, 19)]) expect(cell).toMatch(/^(\d+(\.\d+)?)?$/);
  });

  it('JSON: the comparison itself, values in ns', () => {
    expect(JSON.parse(formatComparison(comparison, 'json'))).toEqual(JSON.parse(JSON.stringify(comparison)));
  });
});

describe('rtlat compare', () => {
  const dir = scratchDir();
  const [baseFile, doubledFile, otherFile] = writeRuns(dir, {
    base: baseline,
    doubled,
    other: runOf([threadOf(0, range(1, 1000))], { config: { ...baseline.config, periodNs: 1_000_000 } }),
  });

  it('prints the table, with warnings after it', () => {
    const outcome = rtlat(['compare', baseFile!, doubledFile!, otherFile!]);
    expect(outcome.status).toBe(0);
    expect(outcome.stderr).toBe('');
    expect(outcome.stdout).toMatch(/^doubled\.json +100000 /m);
    expect(outcome.stdout).toContain('warning: period differs: 200us (base.json, doubled.json), 1ms (other.json)');
  });

  it('keeps CSV parseable: warnings go to stderr', () => {
    const outcome = rtlat(['compare', baseFile!, otherFile!, '--format', 'csv', '--label', 'a', '--label', 'b']);
    expect(outcome.status).toBe(0);
    expect(parseCsv(outcome.stdout).map((row) => row[0])).toEqual(['run', 'a', 'b']);
    expect(outcome.stderr).toBe('rtlat compare: warning: period differs: 200us (a), 1ms (b)\n');
  });

  it.each([
    [['--label', 'only-one'], /^rtlat compare: --label: got 1 for 2 files; give one per file, in the same order$/],
    [['--format', 'yaml'], /^rtlat compare: option '--format <format>' argument 'yaml' is invalid/],
    [['--host-kernel', 'rt'], /^rtlat compare: --host-kernel places runs in the --matrix table; give --matrix too$/],
    [['--matrix', '--host-kernel', 'maybe'], /^rtlat compare: --host-kernel: got "maybe", expected rt \(PREEMPT_RT\) or nrt/],
  ])('%j: one line, exit 2', (extra, message) => {
    const outcome = rtlat(['compare', baseFile!, doubledFile!, ...extra]);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(outcome.stderr.trimEnd()).toMatch(message);
    expect(outcome.stdout).toBe('');
  });

  it('refuses files that are not run files, naming them', () => {
    const missing = rtlat(['compare', baseFile!, path.join(dir, 'absent.json')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^rtlat compare: cannot read ".*absent\.json" \(ENOENT\)\n$/);
    const cyclictest = rtlat(['compare', baseFile!, path.join(FIXTURES, 'run.json')]);
    expect(cyclictest.status).toBe(2);
    expect(cyclictest.stderr).toMatch(/run\.json: not a run file .*'rtlat import cyclictest' first\)\n$/);
  });
});
