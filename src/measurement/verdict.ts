// A verdict for CI lanes: bounds on a run's latencies (max and any percentile, per thread and over all
// threads), dropped samples and a degraded set-up, each violation one line. A percentile bound that the
// run has too few samples for fails too, saying so: a p99.99 of 5,000 samples is only their maximum.
import { decodeHistogram, minSamplesFor } from '../engine/histogram.js';
import { OptionError } from '../errors.js';
import type { RunFile } from '../run-file/schema.js';
import { formatDuration, NS_PER_US, parseDurationNs, PERIOD_RULE } from '../units.js';

export interface LatencyBound {
  /** "max", or a percentile such as "p99.99". */
  name: string;
  /** null for max. */
  percentile: number | null;
  limitNs: number;
}

export interface VerdictRules {
  bounds: LatencyBound[];
  failOnDropped: boolean;
  failOnDegraded: boolean;
}

const ACCEPTED = 'bounds such as max=100us,p99.99=40us,p99=30us (max or pN, with a duration in ns/us/ms/s; a bare number is us)';

/** "max=100us,p99.99=40us" -> its bounds; every mistake is an OptionError naming --fail-above. */
export function parseFailAbove(text: string): LatencyBound[] {
  const bounds: LatencyBound[] = [];
  for (const part of text.split(',')) {
    const match = /^(max|p(\d+(?:\.\d+)?))=(.+)$/.exec(part.trim());
    if (!match) throw new OptionError('fail-above', text, ACCEPTED);
    const percentile = match[2] === undefined ? null : Number(match[2]);
    if (percentile !== null && !(percentile > 0 && percentile < 100)) throw new OptionError('fail-above', text, `${ACCEPTED}; a percentile above 0 and below 100`);
    let limitNs: number;
    try {
      limitNs = parseDurationNs('fail-above', match[3]!, { ...PERIOD_RULE, minNs: 1 });
    } catch {
      throw new OptionError('fail-above', text, ACCEPTED);
    }
    if (bounds.some((bound) => bound.name === match[1])) throw new OptionError('fail-above', text, `${ACCEPTED}; each bound once`);
    bounds.push({ name: match[1]!, percentile, limitNs });
  }
  return bounds;
}

function microseconds(ns: number): string {
  return `${(ns / NS_PER_US).toFixed(1)}us`;
}

/** Who a line is about: "cpu1" where each CPU has one thread, else "thread 3 (cpu1)". */
function threadLabels(run: RunFile): string[] {
  const cpus = run.threads.map((thread) => thread.cpu);
  return run.threads.map((thread) => {
    const unique = thread.cpu !== null && cpus.filter((cpu) => cpu === thread.cpu).length === 1;
    if (unique) return `cpu${thread.cpu}`;
    return thread.cpu === null ? `thread ${thread.thread}` : `thread ${thread.thread} (cpu${thread.cpu})`;
  });
}

/** Every rule the run breaks, one "FAIL: ..." line each; none when it passes. */
export function judgeRun(run: RunFile, rules: VerdictRules): string[] {
  const failures: string[] = [];
  const labels = threadLabels(run);
  const subjects = [
    ...run.threads.map((thread, index) => ({ label: labels[index]!, count: thread.count, maxNs: thread.maxNs, histogram: thread.histogram })),
    ...(run.threads.length > 1 ? [{ label: 'all', count: run.all.count, maxNs: run.all.maxNs, histogram: run.all.histogram }] : []),
  ];
  for (const bound of rules.bounds) {
    const limit = formatDuration(bound.limitNs);
    for (const subject of subjects) {
      if (subject.count === 0) {
        failures.push(`FAIL: ${subject.label} ${bound.name}: no samples to hold to ${limit}`);
        continue;
      }
      if (bound.percentile === null) {
        if (subject.maxNs > bound.limitNs) failures.push(`FAIL: ${subject.label} max ${microseconds(subject.maxNs)} > ${limit}`);
        continue;
      }
      if (subject.histogram === null) {
        failures.push(`FAIL: ${subject.label} ${bound.name}: the run kept no histogram to read it from`);
        continue;
      }
      // The histogram's own count: dropped samples are in the thread's count but not in its histogram.
      const histogram = decodeHistogram(subject.histogram);
      const needed = minSamplesFor(bound.percentile);
      if (histogram.totalCount < needed) {
        failures.push(`FAIL: ${subject.label} ${bound.name}: too few samples (${histogram.totalCount}; ${bound.name} needs ${needed}) to hold it to ${limit}`);
        continue;
      }
      // HdrHistogram's value: the top of its bucket, within 0.1% above the true one.
      const valueNs = histogram.getValueAtPercentile(bound.percentile);
      if (valueNs > bound.limitNs) failures.push(`FAIL: ${subject.label} ${bound.name} ${microseconds(valueNs)} > ${limit}`);
    }
  }
  if (rules.failOnDropped) {
    run.threads.forEach((thread, index) => {
      if (thread.dropped > 0) failures.push(`FAIL: ${labels[index]} dropped ${thread.dropped} samples (the ring was full)`);
    });
  }
  if (rules.failOnDegraded && run.degraded.length > 0) failures.push(`FAIL: degraded: not permitted: ${run.degraded.join('; ')}`);
  return failures;
}
