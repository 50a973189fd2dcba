// startProbe's HdrHistogram interval logs: one file appearing whole at the end, or files rotated by age
// or size, each readable on its own; together they hold every sample the probe took.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { newHistogram, type Histogram } from '../src/engine/histogram.js';
import { startProbe, type ServiceSnapshot, type StartProbeOptions } from '../src/index.js';
import { rotatedPath } from '../src/service/hdr-log-rotation.js';
import { scratchDir } from './helpers/cli.js';
import { csvRows, java, processor } from './helpers/hdr-java.js';
import { itWithTool } from './helpers/tools.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const STAMPED = /^latency\.\d{8}T\d{6}\.\d{3}Z\.hlog$/;

async function runFor(ms: number, options: StartProbeOptions): Promise<ServiceSnapshot> {
  const probe = startProbe({ periodNs: 200_000, ...options });
  await sleep(ms);
  return probe.stop();
}

/** Every interval of the files, merged per tag; and each file's first timestamp. */
function readLogs(files: string[]): { totals: Map<string, Histogram>; firstStartsSec: number[]; lines: number } {
  const totals = new Map<string, Histogram>();
  const firstStartsSec: number[] = [];
  let lines = 0;
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^#rtlat .* service probe/);
    firstStartsSec.push(Number(/^Tag=[^,]+,([\d.]+),/m.exec(text)![1]));
    const reader = new hdr.HistogramLogReader(text);
    for (let histogram = reader.nextIntervalHistogram(); histogram; histogram = reader.nextIntervalHistogram()) {
      lines++;
      if (!totals.has(histogram.tag)) totals.set(histogram.tag, newHistogram());
      totals.get(histogram.tag)!.add(histogram);
    }
  }
  return { totals, firstStartsSec, lines };
}

/** The bytes of a log's last interval: its lines (every tag's) that start when its last line starts. */
function lastIntervalBytes(file: string): number {
  const lines = readFileSync(file, 'utf8').split('\n').filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith('"'));
  const startOf = (line: string) => line.replace(/^Tag=[^,]*,/, '').split(',')[0];
  const last = startOf(lines.at(-1)!);
  return lines.filter((line) => startOf(line) === last).reduce((bytes, line) => bytes + line.length + 1, 0);
}

/** The untagged lines' tag, as HdrHistogram's readers give it: all threads together. */
const NO_TAG = 'NO TAG';

function expectEverySample(logs: ReturnType<typeof readLogs>, last: ServiceSnapshot): void {
  const tag = `cpu${last.threads[0]!.cpu}`;
  expect([...logs.totals.keys()].sort()).toEqual(['event-loop', tag, NO_TAG].sort());
  expect(logs.totals.get(tag)!.totalCount).toBe(last.threads[0]!.cumulative.count);
  expect(logs.totals.get(NO_TAG)!.totalCount).toBe(last.threads[0]!.cumulative.count);
  expect(logs.totals.get('event-loop')!.totalCount).toBe(last.eventLoop!.cumulative.count);
}

describe('startProbe hdrLog', () => {
  it('writes one log that appears whole when the probe stops, with every sample in it', async () => {
    const dir = scratchDir();
    const file = path.join(dir, 'latency.hlog');
    const probe = startProbe({ periodNs: 200_000, hdrLog: { path: file, intervalMs: 50 } });
    await sleep(300);
    expect(readdirSync(dir).filter((name) => !name.startsWith('.'))).toEqual([]);
    const last = await probe.stop();
    expect(readdirSync(dir)).toEqual(['latency.hlog']);
    const logs = readLogs([file]);
    expect(logs.lines).toBeGreaterThanOrEqual(2 * 4);
    expectEverySample(logs, last);
  });

  it('rotates by age: files named by their start, each with timestamps from its own start', async () => {
    const dir = scratchDir();
    const last = await runFor(900, { hdrLog: { path: path.join(dir, 'latency.hlog'), intervalMs: 50, rotateEveryMs: 200 } });
    const names = readdirSync(dir).sort();
    expect(names.length).toBeGreaterThanOrEqual(3);
    for (const name of names) expect(name).toMatch(STAMPED);
    const logs = readLogs(names.map((name) => path.join(dir, name)));
    // Each file's first interval starts at its own StartTime.
    for (const startSec of logs.firstStartsSec) expect(startSec).toBe(0);
    expectEverySample(logs, last);
  });

  it('rotates by size: no file grows much past the limit', async () => {
    const dir = scratchDir();
    const rotateBytes = 4_096;
    const last = await runFor(800, { hdrLog: { path: path.join(dir, 'latency.hlog'), intervalMs: 20, rotateBytes } });
    const files = readdirSync(dir).sort().map((name) => path.join(dir, name));
    expect(files.length).toBeGreaterThanOrEqual(2);
    // Checked before each interval is written: a file is under the limit before its last interval's lines.
    for (const file of files) expect(statSync(file).size - lastIntervalBytes(file), file).toBeLessThan(rotateBytes);
    expectEverySample(readLogs(files), last);
  });

  it('keeps only the newest files when asked, older runs of the same log included, and nothing else', async () => {
    const dir = scratchDir();
    const file = path.join(dir, 'latency.hlog');
    const older = rotatedPath(file, new Date('2020-01-01T00:00:00Z'));
    writeFileSync(older, '#an older run\n');
    writeFileSync(path.join(dir, 'notes.txt'), 'mine\n');
    await runFor(700, { hdrLog: { path: file, intervalMs: 50, rotateEveryMs: 100, keepFiles: 2 } });
    const names = readdirSync(dir).sort();
    expect(names.filter((name) => STAMPED.test(name))).toHaveLength(2);
    expect(names).toContain('notes.txt');
    expect(names).not.toContain(path.basename(older));
  });

  itWithTool(java, "is read by HdrHistogram's HistogramLogProcessor, event loop and CPU tags alike, and without -tag all CPUs together", async () => {
    const dir = scratchDir();
    const file = path.join(dir, 'latency.hlog');
    const last = await runFor(300, { hdrLog: { path: file, intervalMs: 50 }, cpus: [0, 1] });
    const tags = processor(file, ['-listtags']).split('\n').slice(1).filter(Boolean).sort();
    expect(tags).toEqual(['[NO TAG (default)]', 'cpu0', 'cpu1', 'event-loop']);
    const total = (args: string[]) => csvRows(processor(file, [...args, '-csv'])).at(-1)![2];
    const [cpu0, cpu1] = last.threads.map((thread) => thread.cumulative.count);
    expect(total(['-tag', 'cpu0'])).toBe(cpu0);
    expect(total(['-tag', 'cpu1'])).toBe(cpu1);
    expect(total([])).toBe(cpu0! + cpu1!);
  });
});
