// cyclictest -h keeps of an overflowing sample only that it reached the histogram's limit. Imported,
// such samples stay out of the HDR histogram, percentiles that fall among them are bounds (">=60.0"),
// never values, in every output, and the report does not plot them. Only file_version 1 is read.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeHistogram } from '../src/engine/histogram.js';
import { AT_LEAST_NOTE, formatSummaryTable } from '../src/outputs/table.js';
import { importCyclictestJson } from '../src/import/cyclictest.js';
import { percentileSpectrum } from '../src/outputs/report/plots.js';
import type { RunFile } from '../src/run-file/schema.js';
import { rtlat, scratchDir } from './helpers/cli.js';
import { FIXTURES, fixture } from './helpers/runs.js';
import { schemaProblems } from './helpers/schema.js';
import { commandRuns, itWithTool, requireTool } from './helpers/tools.js';

const isRoot = process.getuid?.() === 0;
const cyclictest = requireTool('cyclictest', commandRuns('cyclictest', ['--help']) || commandRuns('which', ['cyclictest']), 'apt-get install rt-tests');

/** Parses the CSV rtlat writes (no quoted fields in these rows). */
function csvRecords(text: string): Record<string, string>[] {
  const [header, ...rows] = text.trimEnd().split('\n').map((line) => line.split(','));
  return rows.map((row) => Object.fromEntries(header!.map((name, index) => [name, row[index] ?? ''])));
}

describe('an imported -h histogram with an overflow (run-histogram.json: -h 60, one sample of 117us)', () => {
  const dir = scratchDir();
  const file = path.join(dir, 'imported.json');

  it('keeps the overflow beyond the histogram, and gives p99.99 as the bound >= 60us', () => {
    expect(rtlat(['import', 'cyclictest', path.join(FIXTURES, 'run-histogram.json'), '-o', file]).status).toBe(0);
    const run = JSON.parse(readFileSync(file, 'utf8')) as RunFile;
    expect(schemaProblems(run)).toBe('');
    for (const part of [run.threads[0]!, run.all]) {
      expect(part.beyondHistogram).toEqual({ count: 1, fromNs: 60_000 });
      expect(decodeHistogram(part.histogram!).totalCount + part.beyondHistogram!.count).toBe(part.count);
      expect(part.percentiles.at(-1)).toEqual({ percentile: 99.99, valueNs: 60_000, reliable: false, atLeast: true });
      // Every other percentile is a value from inside the histogram, below its limit.
      for (const value of part.percentiles.slice(0, -1)) expect(value.valueNs < 60_000 && value.atLeast === undefined).toBe(true);
    }
  });

  it('compare shows the bound as >=60.0, with a note, and no ratio for it', () => {
    const outcome = rtlat(['compare', file, file, '--label', 'a', '--label', 'b']);
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toMatch(/^a +2000 +8\.0 +13\.2 +13\.0 +19\.0 +\(n<10k\) +>=60\.0 +117\.0 +-$/m);
    expect(outcome.stdout).toMatch(/^ {2}vs baseline +1\.00x +1\.00x +1\.00x +1\.00x +- +- +1\.00x$/m);
    expect(outcome.stdout).toContain('>=N: the percentile lies beyond the histogram');
  });

  it('compare --format csv leaves the bound out of the numeric column and flags it', () => {
    const outcome = rtlat(['compare', file, '--format', 'csv']);
    expect(outcome.status).toBe(0);
    const [record] = csvRecords(outcome.stdout);
    expect(record).toMatchObject({ 'p99.9_us': '', 'p99.99_us': '', 'p99.99_ratio': '', 'max_us': '117', flags: 'p99.9:(n<10k);p99.99:>=60.0' });
  });

  it('the report says what is not plotted; its percentile line stops below the limit, its only point above is the known maximum', () => {
    const report = path.join(dir, 'report.html');
    expect(rtlat(['report', file, '-o', report]).status).toBe(0);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('Not plotted: 1 samples of 60.0us or more, beyond the histogram (cyclictest -h counted them only as overflows)');
    expect(html).toContain('the line stops where its 1 samples of 60us or more begin');
    const run = JSON.parse(readFileSync(file, 'utf8')) as RunFile;
    const spectrum = percentileSpectrum(decodeHistogram(run.all.histogram!), run.all.maxNs, run.all.beyondHistogram)!;
    const drawn = [...spectrum.solid, ...spectrum.dashed];
    expect(drawn.length).toBeGreaterThan(10);
    for (const [, us] of drawn) expect(us).toBeLessThan(60);
    expect(spectrum.max[1]).toBe(117);
  });

  it('the summary table shows the bound too, with its note', () => {
    const table = formatSummaryTable(importCyclictestJson(fixture('run-histogram.json'), { rtlatVersion: 'test' }));
    expect(table).toMatch(/^0 +0 +- +2000 +8\.0 +13\.2 +13\.0 +15\.0 +19\.0 +\(n<10k\) +>=60\.0 +117\.0 +- +0$/m);
    expect(table).toContain(AT_LEAST_NOTE);
  });
});

describe('file_version', () => {
  const dir = scratchDir();
  it.each([
    ['a later one', { file_version: 2 }, /^rtlat import: .*later\.json: "file_version" is 2: rtlat reads cyclictest --json file_version 1 \(rt-tests 2\.x\)$/],
    ['none', { file_version: undefined }, /^rtlat import: .*none\.json: "file_version" is missing: rtlat reads cyclictest --json file_version 1 \(rt-tests 2\.x\)$/],
  ])('%s is refused in one line saying which versions are read, exit 2', (name, change, message) => {
    const data = { ...(JSON.parse(fixture('run-histogram.json')) as Record<string, unknown>), ...change };
    const file = path.join(dir, `${name === 'none' ? 'none' : 'later'}.json`);
    writeFileSync(file, JSON.stringify(data));
    const outcome = rtlat(['import', 'cyclictest', file]);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr.trimEnd()).toMatch(message);
    expect(outcome.stdout).toBe('');
  });
});

describe.skipIf(!isRoot)('the real cyclictest with a small -h (needs root)', () => {
  itWithTool(cyclictest, 'every percentile of its import is a value below the limit or the limit as a bound, the bounds last', () => {
    const dir = scratchDir();
    const json = path.join(dir, 'cyclictest.json');
    // -h 10: on a machine like this one, some wake-ups take 10us or more, and they overflow.
    const run = spawnSync('cyclictest', ['-m', '-p', '99', '-i', '1000', '-l', '300', '-t', '1', '-a', '0', '-q', '-h', '10', `--json=${json}`], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(0);
    const out = path.join(dir, 'imported.json');
    expect(rtlat(['import', 'cyclictest', json, '-o', out]).status).toBe(0);
    const imported = JSON.parse(readFileSync(out, 'utf8')) as RunFile;
    expect(schemaProblems(imported)).toBe('');
    const [thread] = imported.threads;
    const overflows = thread!.microsecondHistogram!.overflows;
    expect((thread!.beyondHistogram?.count ?? 0)).toBe(overflows);
    expect(decodeHistogram(thread!.histogram!).totalCount + overflows).toBe(thread!.count);
    const bounds = thread!.percentiles.map((value) => value.atLeast === true);
    // Once a percentile is a bound, every higher one is.
    expect(bounds).toEqual([...bounds].sort((a, b) => Number(a) - Number(b)));
    for (const value of thread!.percentiles) {
      if (value.atLeast) expect(value).toMatchObject({ valueNs: 10_000, reliable: false });
      else expect(value.valueNs).toBeLessThan(10_000);
    }
    // compare's columns: p50, p99, p99.9, p99.99 of all threads.
    const shown = imported.all.percentiles.filter((value) => value.percentile !== 90 && value.atLeast);
    const table = rtlat(['compare', out]).stdout;
    expect((table.match(/>=10\.0/g) ?? []).length).toBe(shown.length);
  });
});
