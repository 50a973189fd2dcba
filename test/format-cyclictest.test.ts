// cyclictest's -q summary and -h histogram, rebuilt from run files: checked byte for byte against the
// fixtures of cyclictest 2.40, and against the real cyclictest when it is installed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cyclictestAvgUs, formatCyclictestHistogram, formatCyclictestSummary } from '../src/outputs/cyclictest/text.js';
import { importCyclictestJson } from '../src/import/cyclictest.js';
import { parseCyclictestVersion } from '../src/cyclictest/version.js';
import type { MicrosecondHistogram } from '../src/run-file/schema.js';
import { fixture, handBuiltRun, handBuiltThread, histogramFixtureRun, summaryFixtureRun } from './helpers/runs.js';
import { commandRuns, itWithTool, requireTool } from './helpers/tools.js';

/** printf's %<width>d as a regex group: right-aligned in at least `width` characters. */
function printfField(width: number): string {
  const padded = Array.from({ length: width }, (_, spaces) => `${' '.repeat(spaces)}\\d{${width - spaces}}`);
  return `(\\d{${width + 1},}|${padded.join('|')})`;
}

// The shapes of the fixture lines: T:%2d (%5d) P:%2d I:%ld C:%7lu Min:%7ld Act:%5ld Avg:%5ld Max:%8ld
const SUMMARY_LINE = new RegExp(
  `^T:${printfField(2)} \\(${printfField(5)}\\) P:${printfField(2)} I:(\\d+) C:${printfField(7)} ` +
    `Min:${printfField(7)} Act:${printfField(5)} Avg:${printfField(5)} Max:${printfField(8)}$`,
);
// The installed cyclictest (Debian 12) and the fixtures are rt-tests 2.4.
const V2_4 = parseCyclictestVersion('2.4');
const DMA_LINE = /^# \/dev\/cpu_dma_latency set to 0us$/;
const HISTOGRAM_LINE = /^\d{6} \d{6,}(\t\d{6,})*$/;
const FOOTER_LINES: [string, RegExp][] = [
  ['Total', /^# Total:( \d{9,})+$/],
  ['Min', /^# Min Latencies:( \d{5,})+$/],
  ['Avg', /^# Avg Latencies:( \d{5,})+$/],
  ['Max', /^# Max Latencies:( \d{5,})+$/],
  ['Overflows', /^# Histogram Overflows:( \d{5,})+$/],
  ['Overflow header', /^# Histogram Overflow at cycle number:$/],
];
const OVERFLOW_CYCLES_LINE = /^# Thread \d+:( \d{5,})*( # \d{5,} others)?$/;

/** Checks every line of a -q -h output against the fixture's shapes; returns the columns per row. */
function checkHistogramShape(text: string, threads: number): void {
  expect(text.endsWith('\n\n')).toBe(true);
  const lines = text.slice(0, -2).split('\n');
  if (DMA_LINE.test(lines[0]!)) lines.shift();
  expect(lines.shift()).toBe('# Histogram');
  const rows = lines.filter((line) => !line.startsWith('#'));
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) {
    expect(row).toMatch(HISTOGRAM_LINE);
    expect(row.split(/\s/)).toHaveLength(1 + threads);
  }
  const footer = lines.slice(rows.length);
  FOOTER_LINES.forEach(([, pattern], index) => expect(footer[index]).toMatch(pattern));
  const perThread = footer.slice(FOOTER_LINES.length);
  expect(perThread).toHaveLength(threads);
  perThread.forEach((line, index) => {
    expect(line).toMatch(OVERFLOW_CYCLES_LINE);
    expect(line.startsWith(`# Thread ${index}:`)).toBe(true);
  });
}

describe('the shapes, proved on the fixtures', () => {
  it('summary lines of cyclictest 2.40 match the summary regex', () => {
    for (const name of ['summary-2threads.txt', 'json-run.stdout.txt']) {
      const [dma, ...lines] = fixture(name).trimEnd().split('\n');
      expect(dma).toMatch(DMA_LINE);
      for (const line of lines) expect(line).toMatch(SUMMARY_LINE);
    }
  });

  it('histogram outputs of cyclictest 2.40 match the histogram shapes', () => {
    checkHistogramShape(fixture('histogram-h100.txt'), 1);
    checkHistogramShape(fixture('run-histogram.stdout.txt'), 1);
  });
});

describe('formatCyclictestSummary', () => {
  it('reproduces summary-2threads.txt byte for byte', () => {
    expect(formatCyclictestSummary(summaryFixtureRun())).toBe(fixture('summary-2threads.txt'));
  });

  it('gives lines of the fixture\'s shape, with the fields where cyclictest puts them', () => {
    const [dma, ...lines] = formatCyclictestSummary(summaryFixtureRun()).trimEnd().split('\n');
    expect(dma).toMatch(DMA_LINE);
    const fields = lines.map((line) => SUMMARY_LINE.exec(line)!.slice(1).map((field) => Number(field)));
    expect(fields).toEqual([
      [0, 6821, 99, 200, 5000, 7, 13, 14, 120],
      [1, 6822, 99, 700, 1451, 8, 17, 15, 942],
    ]);
  });

  it('omits the DMA line when the latency was not held, and widens fields as printf does', () => {
    const run = handBuiltRun(
      [handBuiltThread({ thread: 12, tid: 1234567, periodNs: 10_000_000, count: 123_456_789, minNs: 1_234_567_890, lastNs: 99_999_999, avgNs: 5_000_000_000, sumUs: 4_999_999 * 123_456_789, maxNs: 123_456_789_012 })],
      { dmaLatencyHeld: false },
    );
    const text = formatCyclictestSummary(run);
    expect(text).toBe('T:12 (1234567) P:99 I:10000 C:123456789 Min:1234567 Act:99999 Avg:4999999 Max:123456789\n');
    expect(text.trimEnd()).toMatch(SUMMARY_LINE);
  });

  it('prints the priority applied, and 0 for what an imported run does not know', () => {
    const run = handBuiltRun([handBuiltThread({ thread: 0, tid: null, lastNs: null, applied: { policy: 'other', priority: 0, cpus: [0] } })]);
    expect(formatCyclictestSummary(run)).toBe(
      '# /dev/cpu_dma_latency set to 0us\nT: 0 (    0) P: 0 I:200 C:     10 Min:     14 Act:    0 Avg:   14 Max:      14\n',
    );
  });

  it('gives json-run.stdout.txt from run.json, but for the TIDs and the last latencies the JSON lacks', () => {
    const run = importCyclictestJson(fixture('run.json'), { rtlatVersion: '0.1.0' });
    run.dmaLatencyHeld = true;
    const blank = (text: string) => text.replace(/\(\s*\d+\)/g, '(TID)').replace(/Act:\s*\d+/g, 'Act:N');
    expect(blank(formatCyclictestSummary(run))).toBe(blank(fixture('json-run.stdout.txt')));
  });
});

describe('cyclictest\'s Avg', () => {
  it('divides the sum of truncated microseconds, as cyclictest does', () => {
    // 3 x 10.9us + 1 x 13.2us: cyclictest sums 10 + 10 + 10 + 13 = 43; 43 / 4 = 10, where the mean is 11.5.
    expect(cyclictestAvgUs(handBuiltThread({ thread: 0, count: 4, avgNs: 11_475, sumUs: 43 }))).toBe(10);
    expect(cyclictestAvgUs(handBuiltThread({ thread: 0, count: 0, sumUs: 0 }))).toBe(0);
  });

  it('is floor(mean) for an imported cyclictest run, whose mean is one of truncated us', () => {
    expect(cyclictestAvgUs(handBuiltThread({ thread: 0, avgNs: 19.0 * 1000, sumUs: null }))).toBe(19);
    expect(cyclictestAvgUs(handBuiltThread({ thread: 0, avgNs: 13.99 * 1000, sumUs: null }))).toBe(13);
  });
});

describe('formatCyclictestHistogram', () => {
  it('reproduces histogram-h100.txt byte for byte', () => {
    expect(formatCyclictestHistogram(histogramFixtureRun(), { version: V2_4 })).toBe(fixture('histogram-h100.txt'));
  });

  it('reproduces run-histogram.stdout.txt from run-histogram.json, but for the overflow cycle the JSON lacks', () => {
    const run = importCyclictestJson(fixture('run-histogram.json'), { rtlatVersion: '0.1.0' });
    run.dmaLatencyHeld = true;
    const expected = fixture('run-histogram.stdout.txt').replace('# Thread 0: 01934\n', '# Thread 0: # 00001 others\n');
    expect(formatCyclictestHistogram(run, { version: V2_4 })).toBe(expected);
  });

  it('lays out several threads as cyclictest does: tab-separated columns, totals without overflows', () => {
    const micro = (buckets: number[], overflows: number, overflowCycles: number[]): MicrosecondHistogram => ({ maxUs: 4, buckets, overflows, overflowCycles });
    const run = handBuiltRun(
      [
        handBuiltThread({ thread: 0, count: 10, minNs: 1_000, avgNs: 2_700, sumUs: 26, maxNs: 9_999, microsecondHistogram: micro([0, 3, 4, 2], 1, [7]) }),
        handBuiltThread({ thread: 1, count: 12, minNs: 2_100, avgNs: 3_000, sumUs: 31, maxNs: 3_900, microsecondHistogram: micro([0, 0, 5, 7], 0, []) }),
      ],
      { dmaLatencyHeld: false },
    );
    const text = formatCyclictestHistogram(run, { version: V2_4 });
    expect(text).toBe(
      [
        '# Histogram',
        '000000 000000\t000000',
        '000001 000003\t000000',
        '000002 000004\t000005',
        '000003 000002\t000007',
        '# Total: 000000009 000000012',
        '# Min Latencies: 00001 00002',
        '# Avg Latencies: 00002 00002',
        '# Max Latencies: 00009 00003',
        '# Histogram Overflows: 00001 00000',
        '# Histogram Overflow at cycle number:',
        '# Thread 0: 00007',
        '# Thread 1:',
        '',
        '',
      ].join('\n'),
    );
    checkHistogramShape(text, 2);
  });

  it('lists as many overflow cycles as the histogram has buckets, then counts the others', () => {
    const cycles = Array.from({ length: 10 }, (_, index) => index * 3);
    const micro: MicrosecondHistogram = { maxUs: 3, buckets: [0, 0, 0], overflows: 3000, overflowCycles: cycles };
    const run = handBuiltRun([handBuiltThread({ thread: 0, count: 3000, minNs: 10_000, maxNs: 351_000, microsecondHistogram: micro })]);
    const text = formatCyclictestHistogram(run, { dmaLine: false, version: V2_4 });
    expect(text.startsWith('# Histogram\n')).toBe(true);
    expect(text).toContain('# Total: 000000000\n');
    expect(text.endsWith('# Thread 0: 00000 00003 00006 # 02997 others\n\n')).toBe(true);
  });

  it('refuses a run without a microsecond histogram', () => {
    expect(() => formatCyclictestHistogram(summaryFixtureRun())).toThrow(/no microsecond histogram/);
  });
});

// cyclictest --help exits 0 in rt-tests 2.x.
const cyclictest = requireTool('cyclictest', commandRuns('cyclictest', ['--help']), 'apt-get install rt-tests');

/**
 * The Avg values cyclictest may have printed for each thread of its JSON: it prints the mean of whole
 * microseconds truncated, and its JSON keeps that mean to 2 decimals, so a mean within 0.005 of a whole
 * number may have printed either side of it (a sum of s over n wake-ups prints floor(s / n)).
 */
function knownAvgs(json: string): number[][] {
  const threads = Object.values((JSON.parse(json) as { thread: Record<string, { avg: number; cycles: number }> }).thread);
  return threads.map(({ avg, cycles }) => {
    const sums = { low: Math.ceil((avg - 0.005) * cycles - 1e-6), high: Math.floor((avg + 0.005) * cycles + 1e-6) };
    const possible = new Set<number>();
    for (let sum = Math.max(sums.low, 0); sum <= sums.high; sum++) possible.add(Math.floor(sum / cycles));
    return [...possible];
  });
}

describe('against the real cyclictest', () => {
  /** Runs cyclictest with --json; returns what it printed and the JSON it wrote. */
  function runCyclictest(args: string[]): { stdout: string; json: string } {
    const dir = mkdtempSync(path.join(tmpdir(), 'rtlat-cyclictest-'));
    try {
      const jsonPath = path.join(dir, 'run.json');
      const result = spawnSync('cyclictest', [...args, `--json=${jsonPath}`], { encoding: 'utf8', timeout: 60_000 });
      expect(result.status, result.stderr).toBe(0);
      return { stdout: result.stdout, json: readFileSync(jsonPath, 'utf8') };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  itWithTool(cyclictest, 'prints summaries of the shape formatCyclictestSummary gives, with the numbers of its JSON', () => {
    // cyclictest prints its summary and writes its JSON at different moments; a thread still waking in
    // between makes them disagree. Aligned starts, equal intervals and FIFO 99 end both threads at once.
    const { stdout, json } = runCyclictest(['-t', '2', '-a', '-q', '-l', '300', '-i', '500', '-d', '0', '--secaligned', '-m', '-p', '99']);
    const run = importCyclictestJson(json, { rtlatVersion: '0.1.0' });
    run.dmaLatencyHeld = DMA_LINE.test(stdout.split('\n')[0]!);
    const ours = formatCyclictestSummary(run);
    const avgs = (text: string) => [...text.matchAll(/Avg:\s*(\d+)/g)].map((match) => Number(match[1]));
    const known = knownAvgs(json);
    expect(avgs(ours)).toHaveLength(known.length);
    expect(avgs(stdout)).toHaveLength(known.length);
    known.forEach((possible, index) => {
      expect(possible).toContain(avgs(stdout)[index]);
      expect(possible).toContain(avgs(ours)[index]);
    });
    // Each Avg is checked above against what the JSON determines; the rest of each line must be the same.
    const blank = (text: string) =>
      text.replace(/\(\s*\d+\)/g, '(TID)').replace(/Act:\s*\d+/g, 'Act:N').replace(/Avg:\s*\d+/g, 'Avg:N');
    expect(blank(ours)).toBe(blank(stdout));
  });

  itWithTool(cyclictest, 'prints the -h histogram formatCyclictestHistogram gives from its JSON, for several threads', () => {
    const { stdout, json } = runCyclictest(['-t', '2', '-a', '-q', '-l', '300', '-i', '500', '-h', '30', '--secaligned', '-m', '-p', '99']);
    checkHistogramShape(stdout, 2);
    const run = importCyclictestJson(json, { rtlatVersion: '0.1.0' });
    run.dmaLatencyHeld = DMA_LINE.test(stdout.split('\n')[0]!);
    const ours = formatCyclictestHistogram(run, { version: V2_4 });
    const avgs = (text: string) => /^# Avg Latencies:(.*)$/m.exec(text)![1]!.trim().split(/\s+/).map(Number);
    const known = knownAvgs(json);
    known.forEach((possible, index) => {
      expect(possible).toContain(avgs(stdout)[index]);
      // With no overflow the buckets give cyclictest's sum exactly, and so its Avg.
      if (run.threads[index]!.sumUs !== null) expect(avgs(ours)[index]).toBe(avgs(stdout)[index]);
      else expect(possible).toContain(avgs(ours)[index]);
    });
    // The JSON does not say at which cycles the overflows happened: compare all but those lines (and the
    // Avg row, checked above).
    const rest = (text: string) =>
      text.replace(/^# Thread (\d+):.*$/gm, '# Thread $1: ...').replace(/^# Avg Latencies:.*$/m, '# Avg Latencies: ...');
    expect(rest(ours)).toBe(rest(stdout));
  });
});
