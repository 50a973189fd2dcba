// Run files with known latencies and known environments, for compare, merge, matrix and report tests:
// every sample is given, so counts, min, max, mean and percentiles are known before rtlat computes them.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RunInput } from '../../src/run-file/read.js';
import { type Fingerprint, readFingerprint } from '../../src/fingerprint/index.js';
import { decodeHistogram, encodeHistogram, newHistogram, percentilesOf } from '../../src/engine/histogram.js';
import type { RunFile, RunThread } from '../../src/run-file/schema.js';
import { handBuiltRun, handBuiltThread } from './runs.js';

/** first, first + step, ... up to last. */
export function range(first: number, last: number, step = 1): number[] {
  const values: number[] = [];
  for (let value = first; value <= last; value += step) values.push(value);
  return values;
}

/** A thread (pinned to CPU `thread` unless overridden) that measured exactly `valuesNs`, in that order. */
export function threadOf(thread: number, valuesNs: readonly number[], overrides: Partial<RunThread> = {}): RunThread {
  const histogram = newHistogram();
  for (const value of valuesNs) histogram.recordValue(value);
  const count = valuesNs.length;
  const maxNs = Math.max(...valuesNs);
  return handBuiltThread({
    thread,
    count,
    minNs: Math.min(...valuesNs),
    avgNs: valuesNs.reduce((total, value) => total + value, 0) / count,
    maxNs,
    lastNs: valuesNs.at(-1)!,
    sumUs: valuesNs.reduce((total, value) => total + Math.trunc(value / 1000), 0),
    percentiles: percentilesOf(histogram),
    corrected: { count, maxNs, percentiles: percentilesOf(histogram) },
    histogram: encodeHistogram(histogram),
    correctedHistogram: encodeHistogram(histogram),
    ...overrides,
  });
}

/** A run of `threads` whose all-threads line is computed from them, the way measure computes it. */
export function runOf(threads: RunThread[], overrides: Partial<RunFile> = {}): RunFile {
  const all = newHistogram();
  for (const thread of threads) all.add(decodeHistogram(thread.histogram!));
  const count = threads.reduce((total, thread) => total + thread.count, 0);
  return handBuiltRun(threads, {
    all: {
      count,
      minNs: Math.min(...threads.map((thread) => thread.minNs)),
      avgNs: threads.reduce((total, thread) => total + thread.avgNs * thread.count, 0) / count,
      maxNs: Math.max(...threads.map((thread) => thread.maxNs)),
      overruns: 0,
      dropped: 0,
      percentiles: percentilesOf(all),
      histogram: encodeHistogram(all),
    },
    spikes: [],
    ...overrides,
  });
}

export type Place = 'kvm' | 'xen' | 'bare metal';

const FIXTURE_OF: Record<Place, string> = { kvm: 'firecracker', xen: 'xen-pvh', 'bare metal': 'host-isolated' };

/**
 * A fingerprint of a KVM guest (Firecracker's fixture, named plain kvm), a Xen PVH guest or a bare-metal
 * host, with the kernel made PREEMPT_RT or not: the fixtures hold one kernel each, the matrix needs both.
 */
export function fingerprintFor(place: Place, kernel: 'RT' | 'NRT'): Fingerprint {
  const fingerprint = readFingerprint({ root: path.resolve(import.meta.dirname, '../fixtures/fingerprint', FIXTURE_OF[place]) });
  if (place === 'kvm') fingerprint.virtualization.technology = { value: 'kvm', source: 'test' };
  fingerprint.kernel.preemption = { value: kernel === 'RT' ? 'PREEMPT_RT' : 'PREEMPT_DYNAMIC', source: 'test' };
  fingerprint.kernel.preemptDynamicMode = { value: null, reason: 'test' };
  return fingerprint;
}

/** Writes each run to `dir` as NAME.json and returns the paths, in order. */
export function writeRuns(dir: string, runs: Record<string, RunFile>): string[] {
  return Object.entries(runs).map(([name, run]) => {
    const file = path.join(dir, `${name}.json`);
    writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
    return file;
  });
}

/** Runs as the readers get them, named NAME.json. */
export function inputsOf(runs: Record<string, RunFile>): RunInput[] {
  return Object.entries(runs).map(([name, run]) => ({ file: `${name}.json`, run }));
}
