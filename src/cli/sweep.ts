// `rtlat sweep`: one measurement per period, to expose timer-resolution latency. A kernel that will
// not arm a timer closer than some resolution (a guest's, often 100us) wakes every shorter period
// late, so latencies exceed the period below that resolution and stop exceeding it above.
import { statSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import type { JsHistogram } from 'hdr-histogram-js';
import { writeFileAtomic } from '../outputs/atomic-file.js';
import { OptionError } from '../errors.js';
import { diffCpuCounters, readCpuCounters, readFingerprint, type Fingerprint } from '../fingerprint/index.js';
import { microseconds, percentileCell } from '../formats/table.js';
import { decodeHistogram } from '../histogram.js';
import { checkLoad, loadCpusFor, parseLoadSpec, startLoad, type LoadHandle, type LoadSpec } from '../load/index.js';
import { Probe } from '../probe.js';
import { runFileFromProbe, type RunFile } from '../run.js';
import { formatCpuList, formatDuration, parseCpuList, parseDurationNs, PERIOD_RULE } from '../units.js';
import { RTLAT_VERSION } from '../version.js';
import { commandLine } from './command-line.js';
import { EXIT, reportError, UsageError } from './errors.js';
import { addMeasureOptions, parseMeasureFlags } from './measure.js';
import { checkOutputFolder, checkOutputPath } from '../outputs/output-path.js';
import { onStopSignals } from './signals.js';
import { writeStdout } from './stdout.js';
import { labelRuns } from '../compare/environment.js';
import { renderReport } from '../report/report.js';

interface SweepFlags {
  periods: string;
  duration: string;
  threads?: string;
  cpus?: string;
  priority?: string;
  policy: string;
  clock: string;
  mlock: boolean;
  dmaLatency: boolean;
  allowDegraded?: boolean;
  load?: string;
  loadCpus?: string;
  withAndWithoutLoad?: boolean;
  json?: string;
  report?: string;
  quiet?: boolean;
}

/** One measurement of the sweep: a period, with or without the load. */
interface SweepCase {
  periodNs: number;
  loaded: boolean;
  probe: Probe;
  /** For file names: "50us", or "50us-load" / "50us-noload" when both are measured. */
  label: string;
}

export interface SweepPoint {
  periodNs: number;
  /** The load spec it was measured under; null without load. */
  load: string | null;
  run: RunFile;
  /** Samples later than the period, as a share of the samples in the histogram (0 to 1). */
  exceedingShare: number;
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

export const DEFAULT_PERIODS = '50us,100us,200us,500us,1ms';
/**
 * A period is resolved when fewer than this share of its wake-ups came later than the period.
 * Not zero: on a shared machine a rare spike exceeds any period, while timer resolution late-wakes
 * most of them.
 */
export const RESOLVED_BELOW_SHARE = 0.01;

/** measure's options that a sweep shares; its period, length and outputs are its own. */
const SHARED_WITH_MEASURE = ['threads', 'cpus', 'priority', 'policy', 'clock', 'mlock', 'dmaLatency', 'allowDegraded', 'load', 'loadCpus'];

export function sweepCommand(): Command {
  const command = new Command('sweep')
    .description('Measure at several periods in turn and estimate the timer-resolution latency (where latencies stop exceeding the period).')
    .option('--periods <list>', 'periods to measure, e.g. 50us,100us,1ms (units ns, us, ms, s; a bare number is us)', DEFAULT_PERIODS)
    .option('-D, --duration <time>', 'how long to measure each period: s, m, h or d (a bare number is s)', '10s');
  return addMeasureOptions(command, (name) => SHARED_WITH_MEASURE.includes(name))
    .option('--with-and-without-load', 'measure each period twice, without and with --load')
    .option('--json <path>', 'write one run file per period: into a folder (an existing one, or DIR/, created: sweep-50us.json, ...), or beside any other name (NAME-50us.json, ...)')
    .option('--report <file>', 'write an HTML report of the sweep, with latency plotted against the period')
    .option('-q, --quiet', 'no progress lines')
    .action(async (flags: SweepFlags) => {
      process.exitCode = await sweep(flags);
    });
}

function parsePeriods(text: string): number[] {
  const periodsNs = text.split(',').map((item) => parseDurationNs('periods', item, PERIOD_RULE));
  if (new Set(periodsNs).size !== periodsNs.length) throw new OptionError('periods', text, 'each period once');
  return periodsNs.sort((a, b) => a - b);
}

/**
 * Where the run of `label` goes: FOLDER/sweep-LABEL.json for a folder (one that exists, or a name
 * ending in "/", created), NAME-LABEL.json beside any other name.
 */
function jsonPaths(text: string): (label: string) => string {
  if (text.endsWith('/') || statSync(path.resolve(text), { throwIfNoEntry: false })?.isDirectory()) {
    const folder = checkOutputFolder('json', text);
    return (label) => path.join(folder, `sweep-${label}.json`);
  }
  const { dir, name } = path.parse(checkOutputPath('json', text));
  return (label) => path.join(dir, `${name}-${label}.json`);
}

interface SweepPlan {
  cases: SweepCase[];
  load: LoadSpec | null;
  loadCpus: number[];
  jsonPathOf: ((label: string) => string) | null;
  reportPath: string | null;
  quiet: boolean;
}

/** Checks everything before the first measurement: every probe's options, the load, the output paths. */
async function planSweep(flags: SweepFlags): Promise<SweepPlan> {
  if (flags.withAndWithoutLoad && flags.load === undefined) throw new UsageError('--with-and-without-load needs --load');
  if (flags.loadCpus !== undefined && flags.load === undefined) throw new UsageError('--load-cpus needs --load');
  const periodsNs = parsePeriods(flags.periods);
  // measure's parser for the options they share; each case sets its own period.
  const { probe: options } = parseMeasureFlags({
    period: flags.periods.split(',')[0]!,
    duration: flags.duration,
    threads: flags.threads,
    cpus: flags.cpus,
    priority: flags.priority,
    policy: flags.policy,
    clock: flags.clock,
    mlock: flags.mlock,
    dmaLatency: flags.dmaLatency,
    allowDegraded: flags.allowDegraded,
    format: 'table',
    hdrInterval: '1s',
  });
  const load = flags.load === undefined ? null : parseLoadSpec(flags.load);
  const conditions = load === null ? [false] : flags.withAndWithoutLoad ? [false, true] : [true];
  const cases = periodsNs.flatMap((periodNs) =>
    conditions.map((loaded) => ({
      periodNs,
      loaded,
      probe: new Probe({ ...options, periodNs }),
      label: `${formatDuration(periodNs)}${conditions.length === 2 ? (loaded ? '-load' : '-noload') : ''}`,
    })),
  );
  const loadCpus = flags.loadCpus === undefined ? loadCpusFor(cases[0]!.probe.config) : parseCpuList('load-cpus', flags.loadCpus);
  if (load) await checkLoad(load, { cpus: loadCpus });
  return {
    cases,
    load,
    loadCpus,
    jsonPathOf: flags.json === undefined ? null : jsonPaths(flags.json),
    reportPath: flags.report === undefined ? null : checkOutputPath('report', flags.report),
    quiet: flags.quiet ?? false,
  };
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

export function describeEstimate(estimate: TimerResolutionEstimate): string {
  const share = `${RESOLVED_BELOW_SHARE * 100}%`;
  const where =
    estimate.resolvedFromNs === null
      ? `latencies exceed the period at every period up to ${formatDuration(estimate.longestPeriodNs)} (${share} or more of wake-ups later than it)`
      : estimate.exceededUpToNs === null
        ? `no period was exceeded (fewer than ${share} of wake-ups later than the period from ${formatDuration(estimate.shortestPeriodNs)} on)`
        : `latencies exceed the period up to ${formatDuration(estimate.exceededUpToNs)} and stop at ${formatDuration(estimate.resolvedFromNs)} ` +
          `(fewer than ${share} of wake-ups later than the period from there on)`;
  return `${where}; lowest minimum latency ${microseconds(estimate.minLatencyFloorNs)}us`;
}

const SUMMARY_COLUMNS = ['period', 'load', 'count', 'min', 'p50', 'p99', 'p99.9', 'max', '>period', 'overruns'];

function summaryRow(cells: string[]): string {
  return cells.map((cell, index) => (index === 1 ? cell.padEnd(4) : cell.padStart(index === 0 ? 7 : 9))).join(' ');
}

export function formatSweepSummary(points: readonly SweepPoint[]): string {
  const lines = [summaryRow(SUMMARY_COLUMNS)];
  for (const point of points) {
    const { all } = point.run;
    const percentile = (p: number) => percentileCell(all.percentiles.find((value) => value.percentile === p));
    lines.push(
      summaryRow([
        formatDuration(point.periodNs),
        // The spec itself is in the header line.
        point.load === null ? 'none' : 'load',
        `${all.count}`,
        microseconds(all.minNs),
        percentile(50),
        percentile(99),
        percentile(99.9),
        microseconds(all.maxNs),
        `${(point.exceedingShare * 100).toFixed(2)}%`,
        all.overruns === null ? '-' : `${all.overruns}`,
      ]),
    );
  }
  const conditions = [...new Set(points.map((point) => point.load))];
  for (const load of conditions) {
    const label = conditions.length === 1 ? '' : load === null ? ' without load' : ' with load';
    lines.push(`timer resolution${label}: ${describeEstimate(estimateTimerResolution(points.filter((point) => point.load === load)))}`);
  }
  return `${lines.join('\n')}\n`;
}

function describeSetup(plan: SweepPlan): string {
  const { config } = plan.cases[0]!.probe;
  const periods = new Set(plan.cases.map((sweepCase) => sweepCase.periodNs)).size;
  const cpus = config.threads.flatMap((thread) => (thread.cpu === null ? [] : [thread.cpu]));
  return (
    `rtlat ${RTLAT_VERSION} sweep: ${periods} period${periods === 1 ? '' : 's'}, ${formatDuration(config.durationNs!)} each, ` +
    `policy ${config.policy}${config.policy === 'fifo' || config.policy === 'rr' ? ` ${config.priority}` : ''}, ` +
    `${config.threads.length} thread${config.threads.length === 1 ? '' : 's'}${cpus.length ? ` on CPUs ${formatCpuList(cpus)}` : ''}` +
    `${plan.load ? `, load ${plan.load.text} on CPUs ${formatCpuList(plan.loadCpus)}` : ''}; latencies in us\n`
  );
}

interface Interruption {
  signalled: boolean;
  probe: Probe | null;
}

async function measureCase(sweepCase: SweepCase, plan: SweepPlan, environment: Fingerprint, interruption: Interruption): Promise<RunFile | null> {
  const { probe } = sweepCase;
  const load: LoadHandle | null = sweepCase.loaded ? await startLoad(plan.load!, { cpus: plan.loadCpus }) : null;
  try {
    if (interruption.signalled) return null;
    const measuredCpus = [...new Set(probe.config.threads.flatMap((thread) => (thread.cpu === null ? [] : [thread.cpu])))];
    const countersBefore = readCpuCounters(measuredCpus);
    interruption.probe = probe.start();
    await probe.finished;
    const result = await probe.stop();
    interruption.probe = null;
    const during = diffCpuCounters(countersBefore, readCpuCounters(measuredCpus));
    return runFileFromProbe(result, {
      rtlatVersion: RTLAT_VERSION,
      commandLine: commandLine(),
      environment,
      during,
      stoppedBy: interruption.signalled ? 'signal' : undefined,
      spikes: [],
      spikesOmitted: 0,
      load: load ? await load.stop() : null,
    });
  } finally {
    // On the error paths: the load must not outlive the measurement (stop() is idempotent).
    await load?.stop().catch(() => {});
  }
}

async function sweep(flags: SweepFlags): Promise<number> {
  const interruption: Interruption = { signalled: false, probe: null };
  let stopListening = () => {};
  const onSignal = () => {
    interruption.signalled = true;
    void interruption.probe?.stop();
  };
  try {
    const plan = await planSweep(flags);
    const environment = readFingerprint();
    stopListening = onStopSignals(onSignal);
    await writeStdout(describeSetup(plan));
    const progress = !plan.quiet && process.stderr.isTTY;
    const warned = new Set<string>();
    const points: SweepPoint[] = [];
    for (const [index, sweepCase] of plan.cases.entries()) {
      if (interruption.signalled) break;
      if (progress) process.stderr.write(`rtlat sweep: ${sweepCase.label} (${index + 1} of ${plan.cases.length})\n`);
      const run = await measureCase(sweepCase, plan, environment, interruption);
      if (!run) break;
      for (const refusal of run.degraded.filter((refusal) => !warned.has(refusal))) {
        warned.add(refusal);
        process.stderr.write(`rtlat: DEGRADED: not permitted: ${refusal}\n`);
      }
      if (plan.jsonPathOf) writeFileAtomic(plan.jsonPathOf(sweepCase.label), `${JSON.stringify(run, null, 2)}\n`);
      points.push(sweepPoint(run));
    }
    if (points.length > 0) await writeStdout(formatSweepSummary(points));
    if (plan.reportPath && points.length > 0) {
      const runs = labelRuns(points.map((point, index) => ({ file: plan.jsonPathOf?.(plan.cases[index]!.label) ?? plan.cases[index]!.label, run: point.run })));
      writeFileAtomic(plan.reportPath, renderReport(runs, { title: 'rtlat sweep', rtlatVersion: RTLAT_VERSION, sweep: true }));
    }
    if (points.length < plan.cases.length) await writeStdout(`interrupted: ${points.length} of ${plan.cases.length} runs measured\n`);
    return EXIT.ok;
  } catch (error) {
    return reportError('sweep', error);
  } finally {
    stopListening();
  }
}
