// The HdrHistogram interval log, read back by HdrHistogram's own Java HistogramLogProcessor: the
// reference reader, so a log it accepts is a log every HdrHistogram tool accepts.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HdrLogWriter, hdrLogTag } from '../src/outputs/hdr-log.js';
import { newHistogram, type Histogram } from '../src/engine/histogram.js';
import type { CompletedInterval } from '../src/engine/recorder.js';
import { csvRows, java, processor } from './helpers/hdr-java.js';
import { itWithTool } from './helpers/tools.js';

const START = new Date('2026-11-27T06:16:32.250Z');
const INTERVALS = 3;
const THREADS = [
  { thread: 0, cpu: 0 as number | null, scale: 1 },
  { thread: 1, cpu: null as number | null, scale: 2 },
];

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rtlat-hdr-log-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** 10,000 values, 1..10,000us (times the thread's scale) in ns, spread over 3 one-second intervals. */
function intervalsOf(thread: number, scale: number): CompletedInterval[] {
  return Array.from({ length: INTERVALS }, (_, k) => {
    const histogram = newHistogram('interval');
    for (let us = 1 + k; us <= 10_000; us += INTERVALS) histogram.recordValue(us * 1_000 * scale);
    return { thread, startNs: k * 1e9, endNs: (k + 1) * 1e9, histogram };
  });
}

/** The untagged lines' tag, as HdrHistogram's readers give it. */
const NO_TAG = 'NO TAG';

/** Writes the threads' intervals; returns every tag's intervals merged (NO_TAG: all threads'). */
function writeLog(file: string): Map<string, Histogram> {
  const writer = new HdrLogWriter(file, { startTime: START, comment: 'rtlat measure --hdr-log x.hlog\nsecond line', intervals: { threads: THREADS.length, lengthNs: 1e9 } });
  const merged = new Map<string, Histogram>();
  const perThread = THREADS.map(({ thread, cpu, scale }) => ({ cpu, intervals: intervalsOf(thread, scale) }));
  for (let k = 0; k < INTERVALS; k++) {
    for (const { cpu, intervals } of perThread) {
      const interval = intervals[k]!;
      writer.write(interval, cpu);
      for (const tag of [hdrLogTag(interval.thread, cpu), NO_TAG]) {
        if (!merged.has(tag)) merged.set(tag, newHistogram());
        merged.get(tag)!.add(interval.histogram);
      }
    }
  }
  writer.close();
  return merged;
}

describe('HdrLogWriter', () => {
  it('writes the 1.3 header, then per interval one tagged line per thread and an untagged one of them all', () => {
    const file = path.join(dir, 'run.hlog');
    writeLog(file);
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.slice(0, 5)).toEqual([
      '#rtlat measure --hdr-log x.hlog second line',
      '#[Histogram log format version 1.3]',
      '#[StartTime: 1795760192.250 (seconds since epoch), 2026-11-27T06:16:32.250Z]',
      '#[BaseTime: 1795760192.250 (seconds since epoch)]',
      '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"',
    ]);
    const intervals = lines.slice(5).filter(Boolean);
    expect(intervals).toHaveLength(INTERVALS * (THREADS.length + 1));
    // Each max (9,998, 9,999 or 10,000us) is logged as the top of its 8,192ns-wide bucket.
    const fields = (line: string) => line.split(',').slice(0, line.startsWith('Tag=') ? 4 : 3).join(',');
    expect(intervals.map(fields)).toEqual([
      'Tag=cpu0,0.000,1.000,10.002',
      'Tag=thread1,0.000,1.000,20.005',
      '0.000,1.000,20.005',
      'Tag=cpu0,1.000,1.000,10.002',
      'Tag=thread1,1.000,1.000,20.005',
      '1.000,1.000,20.005',
      'Tag=cpu0,2.000,1.000,10.002',
      'Tag=thread1,2.000,1.000,20.005',
      '2.000,1.000,20.005',
    ]);
    for (const line of intervals) expect(line).toMatch(/^(Tag=\w+,)?\d+\.\d{3},\d+\.\d{3},\d+\.\d{3},HISTF[A-Za-z0-9+/=]+$/);
  });

  it('writes an interval\'s untagged line, spanning its threads\' intervals, once every thread has given it or a later one, the rest at close', () => {
    // Thread 1 started 4 ms after thread 0, and has no samples in interval 1 (its period is longer), so gives none for it.
    const file = path.join(dir, 'uneven.hlog');
    const writer = new HdrLogWriter(file, { startTime: START, intervals: { threads: 2, lengthNs: 1e9 } });
    const [first, second, third] = intervalsOf(0, 1);
    const other = intervalsOf(1, 2).map((interval) => ({ ...interval, startNs: interval.startNs + 4e6, endNs: interval.endNs + 4e6 }));
    writer.write(first!, 0);
    writer.write(second!, 0);
    writer.write(other[0]!, null);
    writer.write(other[2]!, null);
    writer.write(third!, 0);
    writer.close();
    const lines = readFileSync(file, 'utf8').split('\n').filter((line) => /^(Tag=|\d)/.test(line));
    // In the order written: interval 0's untagged line once thread 1 gave interval 0; interval 1's once
    // it gave interval 2 (thread 0 had given 1); interval 2's at close.
    const times = (line: string) => line.split(',').slice(0, line.startsWith('Tag=') ? 3 : 2).join(',');
    expect(lines.map(times)).toEqual([
      'Tag=cpu0,0.000,1.000',
      'Tag=cpu0,1.000,1.000',
      'Tag=thread1,0.004,1.000',
      '0.000,1.004',
      'Tag=thread1,2.004,1.000',
      '1.000,1.000',
      'Tag=cpu0,2.000,1.000',
      '2.000,1.004',
    ]);
    const untaggedCounts = lines.filter((line) => !line.startsWith('Tag=')).map((line) => hdr.decodeFromCompressedBase64(line.split(',')[3]!).totalCount);
    const count = (interval: CompletedInterval) => interval.histogram.totalCount;
    expect(untaggedCounts).toEqual([count(first!) + count(other[0]!), count(second!), count(third!) + count(other[2]!)]);
  });

  it('logs each interval max as the top of its bucket, in ms', () => {
    const histogram = newHistogram('interval');
    histogram.recordValue(123_456_789);
    const file = path.join(dir, 'max.hlog');
    const writer = new HdrLogWriter(file, { startTime: START, intervals: { threads: 1, lengthNs: 1e9 } });
    writer.write({ thread: 0, startNs: 1_500_000_000, endNs: 2_750_000_000, histogram }, 3);
    writer.close();
    const [tagged, untagged] = readFileSync(file, 'utf8').trim().split('\n').slice(-2);
    // 123,456,789 ns lies in a bucket 65,536 ns wide whose top is 123,469,823 ns.
    expect(tagged!.split(',').slice(0, 4).join(',')).toBe('Tag=cpu3,1.500,1.250,123.470');
    expect(untagged!.split(',').slice(0, 3).join(',')).toBe('1.500,1.250,123.470');
  });

  it('reads back with hdr-histogram-js: same tags, counts and values', () => {
    const file = path.join(dir, 'run.hlog');
    const merged = writeLog(file);
    const reader = new hdr.HistogramLogReader(readFileSync(file, 'utf8'));
    const totals = new Map<string, Histogram>();
    for (let histogram = reader.nextIntervalHistogram(); histogram; histogram = reader.nextIntervalHistogram()) {
      if (!totals.has(histogram.tag)) totals.set(histogram.tag, newHistogram());
      totals.get(histogram.tag)!.add(histogram);
    }
    expect([...totals.keys()].sort()).toEqual([NO_TAG, 'cpu0', 'thread1']);
    for (const [tag, histogram] of totals) {
      expect(histogram.totalCount).toBe(tag === NO_TAG ? 20_000 : 10_000);
      expect(histogram.getValueAtPercentile(99)).toBe(merged.get(tag)!.getValueAtPercentile(99));
    }
  });

  it('appears only when closed, and never when abandoned', () => {
    const file = path.join(dir, 'partial.hlog');
    const writer = new HdrLogWriter(file, { startTime: START, intervals: { threads: 1, lengthNs: 1e9 } });
    writer.write(intervalsOf(0, 1)[0]!, 0);
    expect(existsSync(file)).toBe(false);
    writer.close();
    expect(existsSync(file)).toBe(true);

    const dropped = path.join(dir, 'dropped.hlog');
    const abandoned = new HdrLogWriter(dropped, { startTime: START, intervals: { threads: 1, lengthNs: 1e9 } });
    abandoned.write(intervalsOf(0, 1)[0]!, 0);
    abandoned.abandon();
    expect(existsSync(dropped)).toBe(false);
    expect(readdirSync(dir)).toEqual(['partial.hlog']);
  });

  describe('read by HdrHistogram\'s Java HistogramLogProcessor', () => {
    itWithTool(java, 'lists one tag per CPU, thread<N> for an unpinned thread, and the untagged default', () => {
      const file = path.join(dir, 'run.hlog');
      writeLog(file);
      const output = processor(file, ['-listtags']);
      expect(output.split('\n').slice(1).filter(Boolean).sort()).toEqual(['[NO TAG (default)]', 'cpu0', 'thread1']);
    });

    itWithTool(java, 'gives, per tag and without -tag, the percentiles hdr-histogram-js gives for the merged intervals', () => {
      const file = path.join(dir, 'run.hlog');
      const merged = writeLog(file);
      for (const [tag, histogram] of merged) {
        // Values in us with 3 decimals: the processor prints ns values to the nanosecond. No -tag: the untagged lines.
        const rows = csvRows(processor(file, [...(tag === NO_TAG ? [] : ['-tag', tag]), '-csv', '-outputValueUnitRatio', '1000']));
        expect(rows.length).toBeGreaterThan(50);
        expect(rows.at(-1)).toEqual([(histogram.getValueAtPercentile(100) / 1000), 1, tag === NO_TAG ? 20_000 : 10_000]);
        for (const [valueUs, percentile] of rows) {
          expect(valueUs.toFixed(3), `${tag} p${percentile * 100}`).toBe((histogram.getValueAtPercentile(percentile * 100) / 1000).toFixed(3));
        }
      }
    });

    itWithTool(java, 'takes the timestamps as seconds since the log\'s start (its -start/-end pick one interval)', () => {
      const file = path.join(dir, 'run.hlog');
      writeLog(file);
      const rows = csvRows(processor(file, ['-tag', 'cpu0', '-csv', '-start', '0.5', '-end', '1.5']));
      // Only the second interval: values 2, 5, 8, ... 9,998us.
      expect(rows.at(-1)![2]).toBe(3_333);
    });
  });
});
