// A sweep: one measurement per period, to expose timer-resolution latency. A kernel that will not arm
// a timer closer than some resolution (a guest's, often 100us) wakes every shorter period late, so
// latencies exceed the period below that resolution and stop exceeding it above.
import type { JsHistogram } from 'hdr-histogram-js';
import { OptionError } from '../errors.js';
import { decodeHistogram } from '../engine/histogram.js';
import { resolveOptions, type ProbeConfig } from '../engine/options.js';
import { readFingerprint } from '../fingerprint/index.js';
import { checkLoad, loadCpusFor, parseLoadSpec, type LoadSpec } from '../load/index.js';
import type { RunFile } from '../run-file/schema.js';
import { formatDuration } from '../units.js';
import { measureRun, type MeasureOptions } from './measure.js';

export interface SweepOptions extends Omit<MeasureOptions, 'periodNs' | 'loops' | 'durationNs' | 'load' | 'environment'> {
  /** The periods to measure, each once (in increasing order whatever the order given). */
  periodsNs: readonly number[];
  /** How long each period is measured. */
  durationNs: number;
  /** Load generators running during each measurement (with `withAndWithoutLoad`, during every second one). */
  load?: LoadSpec | string | null;
  /** Measure each period twice: without the load, then with it. */
  withAndWithoutLoad?: boolean;
}

/** One measurement of the sweep: a period, with or without the load. */
export interface SweepCase {
  periodNs: number;
  loaded: boolean;
  /** For file names: "50us", or "50us-load" / "50us-noload" when both are measured. */
  label: string;
}

/** What a sweep will measure, every option checked. */
export interface SweepPlan {
  cases: SweepCase[];
  /** The probe's configuration of the first case (the others differ only in their period). */
  config: ProbeConfig;
  load: LoadSpec | null;
  loadCpus: number[];
}

export interface SweepPoint {
  periodNs: number;
  /** The load spec it was measured under; null without load. */
  load: string | null;
  run: RunFile;
  /** Samples later than the period, as a share of the samples in the histogram (0 to 1). */
  exceedingShare: number;
}

export interface SweepHooks {
  /** Once every option is checked, before the first measurement (awaited; throwing ends the sweep). */
  onStart?: (plan: SweepPlan) => void | Promise<void>;
  /** Before each case is measured. */
  onCase?: (sweepCase: SweepCase, index: number) => void;
  /** After each case, with its run file. Throwing ends the sweep. */
  onRun?: (run: RunFile, sweepCase: SweepCase) => void;
}

export interface SweepResult {
  plan: SweepPlan;
  /** One per measured case, in the plan's order: fewer than the cases when the sweep was stopped (`signal`). */
  points: SweepPoint[];
}

export interface TimerResolutionEstimate {
  /** The shortest period from which on fewer than 1% of wake-ups came later than the period; null when even the longest did not get there. */
  resolvedFromNs: number | null;
  /** The longest period still exceeded by 1% or more of its wake-ups; null when none was. */
  exceededUpToNs: number | null;
  shortestPeriodNs: number;
  longestPeriodNs: number;
  /** The lowest minimum latency over all periods: the floor of what a wake-up costs here. */
  minLatencyFloorNs: number;
}

/**
 * A period is resolved when fewer than this share of its wake-ups came later than the period.
 * Not zero: on a shared machine a rare spike exceeds any period, while timer resolution late-wakes
 * most of them.
 */
export const RESOLVED_BELOW_SHARE = 0.01;

/** A sweep measures each period once; `given` is how the periods were spelled (default: formatted). */
export function checkPeriods(periodsNs: readonly number[], given = periodsNs.map(formatDuration).join(',')): void {
  if (periodsNs.length === 0 || new Set(periodsNs).size !== periodsNs.length) throw new OptionError('periods', given, 'each period once');
}

/** Checks everything before the first measurement: every case's probe options and the load. */
export async function planSweep(options: SweepOptions): Promise<SweepPlan> {
  const { periodsNs, withAndWithoutLoad, load: loadSpec, loadCpus: givenLoadCpus } = options;
  checkPeriods(periodsNs);
  const load = loadSpec === undefined || loadSpec === null ? null : typeof loadSpec === 'string' ? parseLoadSpec(loadSpec) : loadSpec;
  const conditions = load === null ? [false] : withAndWithoutLoad ? [false, true] : [true];
  const cases = [...periodsNs]
    .sort((a, b) => a - b)
    .flatMap((periodNs) =>
      conditions.map((loaded) => ({
        periodNs,
        loaded,
        label: `${formatDuration(periodNs)}${conditions.length === 2 ? (loaded ? '-load' : '-noload') : ''}`,
      })),
    );
  const [config] = cases.map((sweepCase) => resolveOptions(probeOptionsOf(options, sweepCase)));
  const loadCpus = givenLoadCpus ? [...givenLoadCpus] : loadCpusFor(config!);
  if (load) await checkLoad(load, { cpus: loadCpus });
  return { cases, config: config!, load, loadCpus };
}

function probeOptionsOf(options: SweepOptions, sweepCase: SweepCase): MeasureOptions {
  const { periodsNs: _periods, withAndWithoutLoad: _both, load: _load, loadCpus: _loadCpus, ...measure } = options;
  return { ...measure, periodNs: sweepCase.periodNs, durationNs: options.durationNs };
}

/**
 * Measures each period in turn (with and without the load as asked) and resolves to a point per
 * run. Aborting `signal` stops the run in progress (its point is kept) and measures no further one.
 */
export async function runSweep(options: SweepOptions, hooks: SweepHooks = {}): Promise<SweepResult> {
  const plan = await planSweep(options);
  const environment = readFingerprint();
  await hooks.onStart?.(plan);
  const points: SweepPoint[] = [];
  for (const [index, sweepCase] of plan.cases.entries()) {
    if (options.signal?.aborted) break;
    hooks.onCase?.(sweepCase, index);
    const run = await measureRun({ ...probeOptionsOf(options, sweepCase), load: sweepCase.loaded ? plan.load : null, loadCpus: plan.loadCpus, environment });
    hooks.onRun?.(run, sweepCase);
    points.push(sweepPoint(run));
  }
  return { plan, points };
}

/** The histogram's count of values certainly above `thresholdNs` (its buckets are 0.1% wide). */
function countAbove(histogram: JsHistogram, thresholdNs: number): number {
  const iterator = histogram.recordedValuesIterator;
  iterator.reset();
  let count = 0;
  while (iterator.hasNext()) {
    const value = iterator.next();
    if (histogram.lowestEquivalentValue(value.valueIteratedTo) > thresholdNs) count += value.countAtValueIteratedTo;
  }
  return count;
}

export function sweepPoint(run: RunFile): SweepPoint {
  const histogram = run.all.histogram === null ? null : (decodeHistogram(run.all.histogram) as JsHistogram);
  const counted = histogram?.totalCount ?? 0;
  return {
    periodNs: run.config.periodNs,
    load: run.load?.spec ?? null,
    run,
    exceedingShare: histogram && counted > 0 ? countAbove(histogram, run.config.periodNs) / counted : 0,
  };
}

/** The load conditions of a sweep's runs (null: without load), in order of first appearance, each with its entries. */
export function byLoadCondition<T>(entries: readonly T[], loadOf: (entry: T) => string | null): { load: string | null; entries: T[] }[] {
  const conditions = [...new Set(entries.map(loadOf))];
  return conditions.map((load) => ({ load, entries: entries.filter((entry) => loadOf(entry) === load) }));
}

/** Points of one condition (all with or all without load). */
export function estimateTimerResolution(points: readonly SweepPoint[]): TimerResolutionEstimate {
  const sorted = [...points].sort((a, b) => a.periodNs - b.periodNs);
  let lastExceeded = -1;
  sorted.forEach((point, index) => {
    if (point.exceedingShare >= RESOLVED_BELOW_SHARE) lastExceeded = index;
  });
  const counted = sorted.filter((point) => point.run.all.count > 0);
  return {
    resolvedFromNs: sorted[lastExceeded + 1]?.periodNs ?? null,
    exceededUpToNs: lastExceeded < 0 ? null : sorted[lastExceeded]!.periodNs,
    shortestPeriodNs: sorted[0]!.periodNs,
    longestPeriodNs: sorted[sorted.length - 1]!.periodNs,
    minLatencyFloorNs: counted.length ? Math.min(...counted.map((point) => point.run.all.minNs)) : 0,
  };
}
