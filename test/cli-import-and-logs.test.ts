// `rtlat import cyclictest` and `rtlat measure --hdr-log`, as processes, against the reference files and tools.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { JsHistogram } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { decodeHistogram } from '../src/engine/histogram.js';
import type { RunFile } from '../src/run-file/schema.js';
import { rtlat, scratchDir } from './helpers/cli.js';
import { csvRows, java, processor } from './helpers/hdr-java.js';
import { FIXTURES } from './helpers/runs.js';
import { itWithTool } from './helpers/tools.js';

const isRoot = process.getuid?.() === 0;

describe('rtlat import cyclictest', () => {
  it('writes the run file to stdout or atomically to -o', () => {
    const printed = rtlat(['import', 'cyclictest', path.join(FIXTURES, 'run-histogram.json')]);
    expect(printed.status).toBe(0);
    const run = JSON.parse(printed.stdout) as RunFile;
    expect(run.tool).toEqual({ name: 'cyclictest', version: '2.40' });
    expect(run.threads[0]!.count).toBe(2000);
    const dir = scratchDir();
    const out = path.join(dir, 'imported.json');
    expect(rtlat(['import', 'cyclictest', path.join(FIXTURES, 'run.json'), '-o', out]).status).toBe(0);
    expect((JSON.parse(readFileSync(out, 'utf8')) as RunFile).threads.map((thread) => thread.count)).toEqual([2000, 1024]);
  });

  it.each([
    [['import', 'cyclictest', '/nonexistent.json'], /^rtlat import: cannot read "\/nonexistent.json" \(ENOENT\)$/],
    [['import', 'oscilloscope', 'x.json'], /^rtlat import: unknown source "oscilloscope": rtlat imports cyclictest$/],
    [['import', 'cyclictest', path.resolve(import.meta.dirname, '../package.json')], /^rtlat import: .*package.json: not a cyclictest --json file: /],
    [['import', 'cyclictest', path.join(FIXTURES, 'run.json'), '-o', '/nonexistent/x.json'], /^rtlat import: --output: got "\/nonexistent\/x.json", expected a file path/],
  ])('%j: one line, exit 2', (args, message) => {
    const outcome = rtlat(args);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(outcome.stderr.trimEnd()).toMatch(message);
    expect(outcome.stdout).toBe('');
  });
});

describe.skipIf(!isRoot)('rtlat measure --hdr-log read by the reference Java tool (needs root)', () => {
  itWithTool(java, 'HistogramLogProcessor prints the same percentiles as rtlat, per CPU with -tag and for all CPUs without', () => {
    const dir = scratchDir();
    const log = path.join(dir, 'run.hlog');
    const json = path.join(dir, 'run.json');
    const outcome = rtlat(['measure', '--period', '200us', '--duration', '2s', '--cpus', '0,1', '--hdr-log', log, '--hdr-interval', '500ms', '--json', json, '-q']);
    expect(outcome.status).toBe(0);
    const run = JSON.parse(readFileSync(json, 'utf8')) as RunFile;
    for (const thread of run.threads) {
      expect(thread.dropped).toBe(0);
      const ours = decodeHistogram(thread.histogram!) as JsHistogram;
      // -outputValueUnitRatio 1000: Java prints microseconds with 3 decimals, i.e. whole ns.
      const rows = csvRows(processor(log, ['-tag', `cpu${thread.cpu}`, '-csv', '-outputValueUnitRatio', '1000']));
      expect(rows.length).toBeGreaterThan(10);
      expect(rows.at(-1)![2]).toBe(thread.count);
      // Java prints each percentile's highest equivalent value (the top of its bucket).
      for (const [valueUs, percentile] of rows) {
        expect(Math.round(valueUs * 1000)).toBe(ours.highestEquivalentValue(ours.getValueAtPercentile(percentile * 100)));
      }
      expect(ours.totalCount).toBe(thread.count);
      for (const { percentile, valueNs } of thread.percentiles) expect(ours.getValueAtPercentile(percentile)).toBe(valueNs);
    }
    // Without -tag: the untagged lines, all CPUs together, as the run's all-threads line.
    const all = decodeHistogram(run.all.histogram!) as JsHistogram;
    const rows = csvRows(processor(log, ['-csv', '-outputValueUnitRatio', '1000']));
    expect(rows.at(-1)![2]).toBe(run.all.count);
    for (const [valueUs, percentile] of rows) {
      expect(Math.round(valueUs * 1000)).toBe(all.highestEquivalentValue(all.getValueAtPercentile(percentile * 100)));
    }
  });
});
