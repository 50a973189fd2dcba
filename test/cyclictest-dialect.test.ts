// The two dialects of cyclictest's output. 2.4 (Debian 12's) is checked against the real cyclictest in
// cyclictest-conformance.test.ts; 2.7 and later are checked here against their grammar in rt-tests'
// source: src/lib/histogram.c (hset_print_bucket: "%06d " then "%06lu" per thread joined by tabs, an
// optional "\t%06llu" sum, only for buckets with samples; hist_print_oflows: "%05lu" joined by spaces,
// then " # %05lu others" once its buffer is full; hist_print_json) and cyclictest.c (print_hist without
// the "# Total:" line, "# Thread %d: " with its space; write_stats with "histogram" only with -h).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importCyclictestJson } from '../src/import/cyclictest.js';
import { cyclictestHelp } from '../src/outputs/cyclictest/help.js';
import { formatCyclictestJson } from '../src/outputs/cyclictest/json.js';
import { formatCyclictestHistogram } from '../src/outputs/cyclictest/text.js';
import { parseCyclictestVersion } from '../src/cyclictest/version.js';
import type { MicrosecondHistogram } from '../src/run-file/schema.js';
import { RTLAT_BIN, scratchDir } from './helpers/cli.js';
import { fixture, handBuiltRun, handBuiltThread } from './helpers/runs.js';

const V2_4 = parseCyclictestVersion('2.4');
const V2_10 = parseCyclictestVersion('2.10');

// The 2.7+ grammar, line by line.
const ROW_2_7 = /^(\d{6}) (\d{6,}(?:\t\d{6,})*)$/;
const TRAILER_2_7: RegExp[] = [
  /^# Min Latencies:( \d{5,})+$/,
  /^# Avg Latencies:( \d{5,})+$/,
  /^# Max Latencies:( \d{5,})+$/,
  /^# Histogram Overflows:( \d{5,})+$/,
  /^# Histogram Overflow at cycle number:$/,
];
const OVERFLOWS_2_7 = /^# Thread (\d+): (\d{5,}(?: \d{5,})*)?(?: # (\d{5,}) others)?$/;

/** Checks a 2.7+ histogram output line by line; returns its rows as [bucket, counts]. */
function checkHistogram27(text: string, options: { threads: number; buckets: number; sumColumn: boolean }): [number, number[]][] {
  expect(text.endsWith('\n\n')).toBe(true);
  const lines = text.slice(0, -2).split('\n');
  expect(lines.shift()).toBe('# Histogram');
  const rows: [number, number[]][] = [];
  while (lines.length && ROW_2_7.test(lines[0]!)) {
    const [, bucket, columns] = ROW_2_7.exec(lines.shift()!)!;
    const counts = columns!.split('\t').map(Number);
    expect(counts).toHaveLength(options.threads + (options.sumColumn ? 1 : 0));
    const perThread = counts.slice(0, options.threads);
    // hset_print_bucket prints a bucket only when some thread has samples in it, and the sum is theirs.
    expect(perThread.some((count) => count > 0)).toBe(true);
    if (options.sumColumn) expect(counts[options.threads]).toBe(perThread.reduce((a, b) => a + b, 0));
    rows.push([Number(bucket), perThread]);
  }
  const buckets = rows.map(([bucket]) => bucket);
  expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  expect(buckets.every((bucket) => bucket < options.buckets)).toBe(true);
  expect(lines.some((line) => line.startsWith('# Total:'))).toBe(false);
  TRAILER_2_7.forEach((pattern) => expect(lines.shift()).toMatch(pattern));
  expect(lines).toHaveLength(options.threads);
  lines.forEach((line, index) => {
    const match = OVERFLOWS_2_7.exec(line);
    expect(match, line).not.toBeNull();
    expect(Number(match![1])).toBe(index);
    expect(line.startsWith(`# Thread ${index}: `)).toBe(true);
  });
  return rows;
}

const micro = (buckets: number[], overflows: number, overflowCycles: number[]): MicrosecondHistogram => ({ maxUs: buckets.length, buckets, overflows, overflowCycles });

describe('the histogram in the 2.7+ dialect', () => {
  const twoThreads = handBuiltRun(
    [
      handBuiltThread({ thread: 0, count: 10, minNs: 1_000, sumUs: 26, maxNs: 9_999, microsecondHistogram: micro([0, 3, 0, 4, 2], 1, [7]) }),
      handBuiltThread({ thread: 1, count: 12, minNs: 3_100, sumUs: 40, maxNs: 4_900, microsecondHistogram: micro([0, 0, 0, 5, 7], 0, []) }),
    ],
    { dmaLatencyHeld: false },
  );

  it('leaves out empty buckets and the totals, and ends "# Thread N: " with its space', () => {
    const text = formatCyclictestHistogram(twoThreads, { version: V2_10 });
    expect(text).toBe(
      [
        '# Histogram',
        '000001 000003\t000000',
        '000003 000004\t000005',
        '000004 000002\t000007',
        '# Min Latencies: 00001 00003',
        '# Avg Latencies: 00002 00003',
        '# Max Latencies: 00009 00004',
        '# Histogram Overflows: 00001 00000',
        '# Histogram Overflow at cycle number:',
        '# Thread 0: 00007',
        '# Thread 1: ',
        '',
        '',
      ].join('\n'),
    );
    expect(checkHistogram27(text, { threads: 2, buckets: 5, sumColumn: false })).toEqual([
      [1, [3, 0]],
      [3, [4, 5]],
      [4, [2, 7]],
    ]);
  });

  it('-H: a sum column on every row, also for one thread (2.4 only adds it for several)', () => {
    const one = handBuiltRun([handBuiltThread({ thread: 0, count: 3, sumUs: 4, microsecondHistogram: micro([0, 1, 2], 0, []) })], { dmaLatencyHeld: false });
    const newer = formatCyclictestHistogram(one, { version: V2_10, sumColumn: true });
    checkHistogram27(newer, { threads: 1, buckets: 3, sumColumn: true });
    expect(newer).toContain('000002 000002\t000002\n');
    expect(newer).toContain('# Max Latencies: 00014\n');
    const older = formatCyclictestHistogram(one, { version: V2_4, sumColumn: true });
    expect(older).toContain('000002 000002\n');
    expect(older).toContain('# Total: 000000003\n');
    const both = formatCyclictestHistogram(twoThreads, { version: V2_10, sumColumn: true });
    checkHistogram27(both, { threads: 2, buckets: 5, sumColumn: true });
    // Several threads: the trailer's extra column (max of maxima, all overflows), as in 2.4.
    expect(both).toContain('# Max Latencies: 00009 00004 00009\n');
    expect(both).toContain('# Histogram Overflows: 00001 00000 00001\n');
  });

  it('counts the overflows beyond its buffer as "others", even none once the buffer is just full', () => {
    const full = handBuiltRun([handBuiltThread({ thread: 0, count: 3, minNs: 5_000, maxNs: 9_000, microsecondHistogram: micro([0, 0, 0], 3, [1, 2, 3]) })], { dmaLatencyHeld: false });
    expect(formatCyclictestHistogram(full, { version: V2_10 })).toContain('# Thread 0: 00001 00002 00003 # 00000 others\n');
    expect(formatCyclictestHistogram(full, { version: V2_4 })).toContain('# Thread 0: 00001 00002 00003\n');
    const over = handBuiltRun([handBuiltThread({ thread: 0, count: 5, minNs: 5_000, maxNs: 9_000, microsecondHistogram: micro([0, 0, 0], 5, [1, 2, 3]) })], { dmaLatencyHeld: false });
    const text = formatCyclictestHistogram(over, { version: V2_10 });
    expect(text).toContain('# Thread 0: 00001 00002 00003 # 00002 others\n');
    checkHistogram27(text, { threads: 1, buckets: 3, sumColumn: false });
  });
});

describe('the JSON in both dialects', () => {
  const run = handBuiltRun([handBuiltThread({ thread: 0, count: 4, minNs: 2_000, maxNs: 7_400, sumUs: 13, microsecondHistogram: micro([0, 0, 2, 1], 1, [3]) })]);
  const base = { commandLine: 'cyclictest -q -h 4', startTime: new Date(), endTime: new Date(), nsecs: false, placement: [{ cpu: 1, node: 0 }] };

  it('writes the histogram as hist_print_json does, and leaves it out without -h from 2.7 on', () => {
    const newer = formatCyclictestJson(run, { ...base, version: V2_10, histogram: true });
    expect(newer).toContain('      "histogram": {\n        "2": 2,\n        "3": 1\n      },\n      "cycles": 4,\n');
    expect(JSON.parse(newer)['rt_test_version:']).toBe('2.10');
    expect(formatCyclictestJson(run, { ...base, version: V2_10, histogram: false })).not.toContain('"histogram"');
    const empty = handBuiltRun([handBuiltThread({ thread: 0, count: 1, microsecondHistogram: micro([0, 0], 1, [0]) })]);
    expect(formatCyclictestJson(empty, { ...base, version: V2_10, histogram: true })).toContain('      "histogram": {\n      },\n');
    expect(formatCyclictestJson(empty, { ...base, version: V2_4, histogram: true })).toContain('      "histogram": {      },\n');
    expect(formatCyclictestJson(run, { ...base, version: V2_4, histogram: false })).toContain('      "histogram": {      },\n');
  });

  it('writes an imported run\'s mean as cyclictest wrote it, to its 2 decimals', () => {
    const imported = importCyclictestJson(fixture('run.json'), { rtlatVersion: '0.1.0' });
    const theirs = JSON.parse(fixture('run.json')) as { thread: Record<string, { avg: number }> };
    const ours = JSON.parse(formatCyclictestJson(imported, { ...base, version: V2_4, histogram: false, placement: [] })) as typeof theirs;
    expect(Object.values(ours.thread).map((thread) => thread.avg)).toEqual(Object.values(theirs.thread).map((thread) => thread.avg));
  });

  it('has the keys, layout and types of cyclictest 2.40\'s own file (run.json), odd keys included', () => {
    const text = formatCyclictestJson(run, { ...base, version: V2_4, histogram: false });
    const shapeOf = (json: string) => json.split('\n').map((line) => line.replace(/: .*?(,?)$/, ': <value>$1'));
    const theirs = fixture('run.json');
    // The fixture has two threads; compare its first thread's block and everything around it.
    const oneThread = theirs.replace(/,\n    "1": \{[\s\S]*?\n    \}\n/, '\n').replace('"num_threads": 2', '"num_threads": 1');
    expect(shapeOf(text)).toEqual(shapeOf(oneThread));
    expect(JSON.parse(text)).toMatchObject({ 'cmdline:': 'cyclictest -q -h 4', 'rt_test_version:': '2.40', num_threads: 1, thread: { 0: { cycles: 4, min: 2, max: 7, avg: 3.25, cpu: 1, node: 0 } } });
  });
});

describe('versions', () => {
  it('reads the versions as written or as cyclictest prints them, and refuses others', () => {
    expect(parseCyclictestVersion('2.4').printed).toBe('2.40');
    expect(parseCyclictestVersion('2.40').minor).toBe(4);
    expect(parseCyclictestVersion('2.7').printed).toBe('2.70');
    expect(parseCyclictestVersion('2.10').printed).toBe('2.10');
    expect(parseCyclictestVersion(undefined).printed).toBe('2.10');
    for (const bad of ['3.0', '2.3', '2.11', 'latest', '2']) expect(() => parseCyclictestVersion(bad), bad).toThrow(/expected a cyclictest version from 2.4 to 2.10/);
  });

  it('prints each version\'s help: 2.4\'s is the fixture; 2.8 and later add --deepest-idle-state', () => {
    expect(cyclictestHelp(V2_4)).toBe(fixture('help.txt'));
    const newest = cyclictestHelp(V2_10);
    expect(newest.startsWith('cyclictest V 2.10\nUsage:\n')).toBe(true);
    expect(newest).toContain('         --deepest-idle-state=n\n');
    expect(newest).toContain('                           and the fourth thread on CPU 5.\n');
    expect(cyclictestHelp(parseCyclictestVersion('2.7'))).not.toContain('deepest');
  });
});

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('rtlat cyclictest in the 2.7+ dialect (needs root)', () => {
  const dir = scratchDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(process.execPath, [RTLAT_BIN, 'cyclictest', ...args], { encoding: 'utf8', env, cwd: dir });

  it('prints the histogram, and writes the JSON, of the newest cyclictest by default', () => {
    const json = path.join(dir, 'newest.json');
    const outcome = run(['-q', '-h', '30', '-l', '200', '-i', '200', '-p', '90', '-t', '2', `--json=${json}`]);
    expect(outcome.status, outcome.stderr).toBe(0);
    const [dma, ...rest] = outcome.stdout.split('\n');
    expect(dma).toBe('# /dev/cpu_dma_latency set to 0us');
    const rows = checkHistogram27(rest.join('\n'), { threads: 2, buckets: 30, sumColumn: false });
    const file = JSON.parse(readFileSync(json, 'utf8'));
    expect(file['rt_test_version:']).toBe('2.10');
    // The JSON's buckets are the printed rows' non-zero counts.
    const printed = Object.fromEntries(rows.filter(([, counts]) => counts[0]! > 0).map(([bucket, counts]) => [String(bucket), counts[0]]));
    expect(file.thread['0'].histogram).toEqual(printed);
  });

  it('follows RTLAT_CYCLICTEST_VERSION, and --cyclictest-version over it', () => {
    const env = { ...process.env, RTLAT_CYCLICTEST_VERSION: '2.4' };
    expect(run(['--help'], env).stdout.startsWith('cyclictest V 2.40\n')).toBe(true);
    expect(run(['--cyclictest-version=2.8', '--help'], env).stdout.startsWith('cyclictest V 2.80\n')).toBe(true);
    const older = run(['-q', '-h', '5', '-l', '50', '-i', '200', '-p', '90'], env);
    expect(older.stdout).toMatch(/^# Total: \d{9}$/m);
    expect(run(['-q', '-l', '10', '--cyclictest-version=9'], env).stderr).toBe('rtlat cyclictest: --cyclictest-version: got "9", expected a cyclictest version from 2.4 to 2.10, e.g. 2.4 (Debian 12) or 2.10\n');
  });

  it('knows --deepest-idle-state from 2.8 on (and refuses it: rtlat leaves idle states alone)', () => {
    const newer = run(['--deepest-idle-state=1', '-q', '-l', '10']);
    expect(newer.status).toBe(2);
    expect(newer.stderr).toMatch(/^rtlat cyclictest: --deepest-idle-state 1: not supported by rtlat: /);
    const older = run(['--cyclictest-version=2.7', '--deepest-idle-state=1', '-q', '-l', '10']);
    expect(older.status).toBe(2);
    expect(older.stderr).toBe("rtlat cyclictest: unrecognized option '--deepest-idle-state=1'\n");
  });
});
