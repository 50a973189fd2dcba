// Runs of one configuration added into one run, as if measured in one go: HDR histograms add without
// loss, so the merged percentiles are those of every sample; counts, min, max and mean combine exactly.
// Threads merge with the threads of the other runs that ran on the same CPU with the same period.
import { type CpuCounterValues, type CpuCountersDelta, describeEnvironment } from '../fingerprint/index.js';
import { addBeyond, decodeHistogram, encodeHistogram, newHistogram, percentilesOf, type Histogram } from '../engine/histogram.js';
import type { MicrosecondHistogram, RunConfig, RunFile, RunLoad, RunThread, Spike, ThreadExtremes } from './schema.js';
import { combineLatencies } from './summary.js';
import { formatDuration, NS_PER_MS } from '../units.js';
import { type Aspect, CLOCK, differences, LOAD, PERIOD, POLICY } from './configuration.js';
import { fingerprintOf } from './environment.js';
import { type RunInput, shortName } from './read.js';

/** The runs measured different things; the message says what differs, in one line. */
export class MergeRefused extends Error {
  override name = 'MergeRefused';
}

export interface MergeMetadata {
  rtlatVersion: string;
  /** The merge command as typed: the merged file's command line, naming the files merged. */
  commandLine: string;
}

export interface Merged {
  run: RunFile;
  /** What the merged file could not keep as the runs had it (e.g. differing spike thresholds). */
  notes: string[];
}

const TOOL: Aspect = { name: 'tool', of: (run) => run.tool.name };
/** A host run and a guest run, or an RT and a non-RT kernel, are two experiments, not one. */
const ENVIRONMENT: Aspect = {
  name: 'environment',
  of: (run) => {
    const fingerprint = fingerprintOf(run.environment);
    return fingerprint ? describeEnvironment(fingerprint) : 'not recorded';
  },
};
/** Added to each further thread's period: runs that differ in it ran their threads at different periods. */
const DISTANCE: Aspect = { name: 'distance', of: (run) => formatDuration(run.config.distanceNs) };

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** The sum when every run knows the value, else null. */
function sumKnown(values: readonly (number | null)[]): number | null {
  return values.every((value) => value !== null) ? sum(values as number[]) : null;
}

/** True when all are true, false when any is false, null when the rest are unknown. */
function allTrue(values: readonly (boolean | null)[]): boolean | null {
  if (values.some((value) => value === false)) return false;
  return values.every((value) => value === true) ? true : null;
}

function allEqual(values: readonly unknown[]): boolean {
  return values.every((value) => JSON.stringify(value) === JSON.stringify(values[0]));
}

/** The common value, or null when the runs differ. */
function common<T>(values: readonly T[]): T | null {
  return allEqual(values) ? (values[0] ?? null) : null;
}

/** The histograms added, or null when any part kept none: a merged histogram must hold every sample. */
function addHistograms(encoded: readonly (string | null)[]): Histogram | null {
  if (encoded.some((value) => value === null)) return null;
  const merged = newHistogram('cumulative');
  for (const value of encoded) merged.add(decodeHistogram(value!));
  return merged;
}

/** A thread's part in one run, with the wake-ups its thread had counted in the runs before. */
interface ThreadPart {
  thread: RunThread;
  cyclesBefore: number;
}

function mergeMicrosecondHistograms(parts: readonly ThreadPart[]): MicrosecondHistogram | null {
  const histograms = parts.map(({ thread }) => thread.microsecondHistogram);
  const maxUs = common(histograms.map((histogram) => histogram?.maxUs ?? null));
  if (maxUs === null || histograms.some((histogram) => histogram === null)) return null;
  const buckets = new Array<number>(maxUs).fill(0);
  for (const histogram of histograms) histogram!.buckets.forEach((count, us) => (buckets[us]! += count));
  // Cycles continue across runs; like the recorder, keep at most maxUs of them.
  const overflowCycles = parts.flatMap(({ thread, cyclesBefore }) => thread.microsecondHistogram!.overflowCycles.map((cycle) => cycle + cyclesBefore));
  return { maxUs, buckets, overflows: sum(histograms.map((histogram) => histogram!.overflows)), overflowCycles: overflowCycles.slice(0, maxUs) };
}

/**
 * Block maxima follow each other when every part kept blocks of one size (each run's last,
 * incomplete block was already left out). The largest latencies stay "every one above the
 * threshold" at the highest of the parts' thresholds; their cycles continue across runs.
 */
function mergeExtremes(parts: readonly ThreadPart[]): ThreadExtremes | null {
  const all = parts.map(({ thread }) => thread.extremes ?? null);
  if (all.some((extremes) => extremes === null)) return null;
  const extremes = all as ThreadExtremes[];
  const blockSize = common(extremes.map((part) => part.blockSize));
  if (blockSize === null) return null;
  const thresholds = extremes.map((part) => part.thresholdNs).filter((threshold): threshold is number => threshold !== null);
  const thresholdNs = thresholds.length ? Math.max(...thresholds) : null;
  return {
    blockSize,
    blockMaximaNs: extremes.flatMap((part) => part.blockMaximaNs),
    blocksLost: sum(extremes.map((part) => part.blocksLost)),
    thresholdNs,
    exceedances: parts.flatMap(({ thread, cyclesBefore }) =>
      thread.extremes!.exceedances
        .filter((exceedance) => thresholdNs === null || exceedance.latencyNs >= thresholdNs)
        .map((exceedance) => ({ cycle: exceedance.cycle + cyclesBefore, latencyNs: exceedance.latencyNs, dueNs: exceedance.dueNs + cyclesBefore * thread.periodNs })),
    ),
  };
}

function mergeThread(index: number, parts: readonly ThreadPart[]): RunThread {
  const threads = parts.map(({ thread }) => thread);
  const { count, minNs, avgNs, maxNs } = combineLatencies(threads);
  const histogram = addHistograms(threads.map((thread) => thread.histogram));
  const beyond = histogram ? addBeyond(threads.map((thread) => thread.beyondHistogram)) : null;
  const corrected = threads.every((thread) => thread.corrected !== null) ? addHistograms(threads.map((thread) => thread.correctedHistogram)) : null;
  const last = threads.at(-1)!;
  return {
    thread: index,
    cpu: last.cpu,
    tid: common(threads.map((thread) => thread.tid)),
    periodNs: last.periodNs,
    applied: common(threads.map((thread) => thread.applied)),
    memoryLocked: allTrue(threads.map((thread) => thread.memoryLocked)),
    pageFaults: sumKnown(threads.map((thread) => thread.pageFaults)),
    count,
    minNs,
    avgNs,
    maxNs,
    lastNs: last.lastNs,
    sumUs: sumKnown(threads.map((thread) => thread.sumUs)),
    overruns: sumKnown(threads.map((thread) => thread.overruns)),
    dropped: sum(threads.map((thread) => thread.dropped)),
    percentiles: histogram ? percentilesOf(histogram, beyond) : [],
    corrected: corrected
      ? { count: sum(threads.map((thread) => thread.corrected!.count)), maxNs: Math.max(...threads.map((thread) => thread.corrected!.maxNs)), percentiles: percentilesOf(corrected) }
      : null,
    histogram: histogram ? encodeHistogram(histogram) : null,
    beyondHistogram: beyond,
    correctedHistogram: corrected ? encodeHistogram(corrected) : null,
    microsecondHistogram: mergeMicrosecondHistograms(parts),
    extremes: mergeExtremes(parts),
  };
}

function mergeAll(runs: readonly RunFile[]): RunFile['all'] {
  const alls = runs.map((run) => run.all);
  const { count, minNs, avgNs, maxNs } = combineLatencies(alls);
  const histogram = addHistograms(alls.map((all) => all.histogram));
  const beyond = histogram ? addBeyond(alls.map((all) => all.beyondHistogram)) : null;
  return {
    count,
    minNs,
    avgNs,
    maxNs,
    overruns: sumKnown(alls.map((all) => all.overruns)),
    dropped: sum(alls.map((all) => all.dropped)),
    percentiles: histogram ? percentilesOf(histogram, beyond) : [],
    histogram: histogram ? encodeHistogram(histogram) : null,
    beyondHistogram: beyond,
  };
}

/** Same spec (merge checks it): generators of one kind on one CPU add up; their rate is over the time they ran. */
function mergeLoad(loads: readonly (RunLoad | null)[]): RunLoad | null {
  const known = loads.filter((load) => load !== null);
  if (known.length === 0) return null;
  const byKey = new Map<string, { kind: string; cpu: number | null; operations: number; seconds: number }>();
  for (const generator of known.flatMap((load) => load.generators)) {
    const key = `${generator.kind}@${generator.cpu}`;
    const entry = byKey.get(key) ?? { kind: generator.kind, cpu: generator.cpu, operations: 0, seconds: 0 };
    entry.operations += generator.operations;
    entry.seconds += generator.opsPerSecond > 0 ? generator.operations / generator.opsPerSecond : 0;
    byKey.set(key, entry);
  }
  return {
    spec: known[0]!.spec,
    cpus: [...new Set(known.flatMap((load) => load.cpus))].sort((a, b) => a - b),
    generators: [...byKey.values()].map(({ kind, cpu, operations, seconds }) => ({ kind, cpu, operations, opsPerSecond: seconds > 0 ? operations / seconds : 0 })),
  };
}

/** The counters of every run added, per CPU over the runs that measured on it; null when any run lacks them. */
function mergeDuring(deltas: readonly (CpuCountersDelta | null)[]): CpuCountersDelta | null {
  if (deltas.some((delta) => delta === null)) return null;
  const known = deltas as CpuCountersDelta[];
  const cpus = [...new Set(known.flatMap((delta) => Object.keys(delta.perCpu).map(Number)))].sort((a, b) => a - b);
  const perCpu: Record<number, CpuCounterValues> = {};
  for (const cpu of cpus) {
    const readings = known.map((delta) => delta.perCpu[cpu]).filter((values) => values !== undefined);
    const total = (name: keyof CpuCounterValues) => sumKnown(readings.map((values) => values[name]));
    perCpu[cpu] = { stealNs: total('stealNs'), interrupts: total('interrupts'), runQueueWaitNs: total('runQueueWaitNs'), scheduleCalls: total('scheduleCalls') };
  }
  return {
    elapsedNs: sum(known.map((delta) => delta.elapsedNs)),
    perCpu,
    systemContextSwitches: sumKnown(known.map((delta) => delta.systemContextSwitches)),
    unavailable: Object.assign({}, ...known.map((delta) => delta.unavailable)) as CpuCountersDelta['unavailable'],
  };
}

/** What makes two run files one run: when and how it was measured, and its samples. */
function identity(run: RunFile): string {
  return JSON.stringify([run.startTime, run.endTime, run.commandLine, run.all.count, run.all.maxNs, run.all.histogram]);
}

/** Refuses a run given twice (the same file, or a copy of it): its samples would count twice. */
function checkDistinct(named: readonly { name: string; run: RunFile }[]): void {
  const seen = new Map<string, string>();
  for (const { name, run } of named) {
    const earlier = seen.get(identity(run));
    if (earlier !== undefined) {
      throw new MergeRefused(`${earlier} and ${name} are the same run (started ${run.startTime}, the same samples): merging it twice would count each sample twice`);
    }
    seen.set(identity(run), name);
  }
}

/**
 * Adds `inputs` (at least two) into one run file. Throws MergeRefused when they differ in period,
 * policy and priority, clock, distance, load, tool or environment (where and on which kernel): their
 * samples would not describe one thing; and when one run is given twice.
 */
export function mergeRuns(inputs: readonly RunInput[], meta: MergeMetadata): Merged {
  if (inputs.length < 2) throw new RangeError(`merge needs at least two runs, got ${inputs.length}`);
  const named = inputs.map(({ file, run }) => ({ name: shortName(file), run }));
  const [difference] = differences(named, [PERIOD, POLICY, CLOCK, DISTANCE, LOAD, TOOL, ENVIRONMENT]);
  if (difference !== undefined) throw new MergeRefused(`${difference}: only runs of one configuration merge`);
  checkDistinct(named);

  // In time order, so that cycles, due times and the last latency continue from one run to the next.
  const ordered = [...named].sort((a, b) => Date.parse(a.run.startTime) - Date.parse(b.run.startTime));
  const runs = ordered.map(({ run }) => run);
  const startMs = Date.parse(runs[0]!.startTime);
  const notes: string[] = [];

  // Per run: where each of its threads went (the merged thread's index) and the cycles counted before it.
  const groups = new Map<string, ThreadPart[]>();
  const placements = runs.map((run) => {
    const placed = new Map<number, { index: number; cyclesBefore: number }>();
    for (const thread of run.threads) {
      const key = `${thread.cpu ?? `thread ${thread.thread}`}@${thread.periodNs}`;
      const parts = groups.get(key) ?? [];
      const index = groups.has(key) ? [...groups.keys()].indexOf(key) : groups.size;
      groups.set(key, parts);
      const cyclesBefore = sum(parts.map((part) => part.thread.count));
      parts.push({ thread, cyclesBefore });
      placed.set(thread.thread, { index, cyclesBefore });
    }
    return placed;
  });
  const threads = [...groups.values()].map((parts, index) => mergeThread(index, parts));

  const spikeThresholdNs = common(runs.map((run) => run.config.spikeThresholdNs));
  let spikes: Spike[] = [];
  if (spikeThresholdNs !== null) {
    spikes = runs.flatMap((run, runIndex) => {
      const offsetNs = (Date.parse(run.startTime) - startMs) * NS_PER_MS;
      return run.spikes.map((spike) => {
        const { index, cyclesBefore } = placements[runIndex]!.get(spike.thread)!;
        return { ...spike, thread: index, cycle: spike.cycle + cyclesBefore, dueNs: spike.dueNs + offsetNs };
      });
    });
  } else if (runs.some((run) => run.config.spikeThresholdNs !== null)) {
    notes.push('spike thresholds differ: the merged file lists no spikes');
  }

  const histogramMaxUs = common(runs.map((run) => run.config.histogramMaxUs));
  if (histogramMaxUs === null && runs.some((run) => run.config.histogramMaxUs !== null)) notes.push('--histogram sizes differ: the merged file keeps no per-microsecond histogram');
  if (!allEqual(runs.map((run) => run.environment))) notes.push(`the environments differ in details: the merged file keeps ${ordered[0]!.name}'s`);
  if (!allEqual(runs.map((run) => run.tool.version))) notes.push(`${runs[0]!.tool.name} versions differ: the merged file names ${runs[0]!.tool.version}`);

  const broken = runs.findIndex((run) => run.breaktrace !== null);
  const breaktrace = broken < 0 ? null : { ...runs[broken]!.breaktrace!, thread: placements[broken]!.get(runs[broken]!.breaktrace!.thread)!.index };
  const first = runs[0]!;
  const config: RunConfig = {
    ...first.config,
    aligned: runs.every((run) => run.config.aligned),
    alignOffsetNs: common(runs.map((run) => run.config.alignOffsetNs ?? null)),
    staggerNs: common(runs.map((run) => run.config.staggerNs ?? null)),
    loops: sumKnown(runs.map((run) => run.config.loops)),
    loopsEndAll: runs.some((run) => run.config.loopsEndAll ?? false),
    durationNs: sumKnown(runs.map((run) => run.config.durationNs)),
    cpus: threads.map((thread) => thread.cpu),
    mainCpus: common(runs.map((run) => run.config.mainCpus ?? null)),
    lockMemory: runs.every((run) => run.config.lockMemory),
    dmaLatency: runs.every((run) => run.config.dmaLatency),
    allowDegraded: runs.some((run) => run.config.allowDegraded),
    spikeThresholdNs,
    breakThresholdNs: common(runs.map((run) => run.config.breakThresholdNs)),
    histogramMaxUs,
  };
  const run: RunFile = {
    schema: first.schema,
    schemaVersion: first.schemaVersion,
    tool: first.tool,
    rtlatVersion: meta.rtlatVersion,
    commandLine: meta.commandLine,
    startTime: first.startTime,
    endTime: new Date(Math.max(...runs.map((candidate) => Date.parse(candidate.endTime)))).toISOString(),
    config,
    environment: first.environment,
    // Runs of one guest on different hosts are still one guest's runs; a host that differs is not kept.
    hostEnvironment: common(runs.map((candidate) => candidate.hostEnvironment ?? null)),
    // A merged run is a guest run only if all are, set up alike.
    guest: common(runs.map((candidate) => candidate.guest ?? null)),
    during: mergeDuring(runs.map((candidate) => candidate.during ?? null)),
    degraded: [...new Set(runs.flatMap((candidate) => candidate.degraded))],
    dmaLatencyHeld: allTrue(runs.map((candidate) => candidate.dmaLatencyHeld)),
    stoppedBy: runs.find((candidate) => candidate.stoppedBy !== 'completed')?.stoppedBy ?? 'completed',
    breaktrace,
    threads,
    all: mergeAll(runs),
    spikes,
    spikesOmitted: spikeThresholdNs === null ? 0 : sum(runs.map((candidate) => candidate.spikesOmitted)),
    load: mergeLoad(runs.map((candidate) => candidate.load ?? null)),
  };
  return { run, notes };
}
