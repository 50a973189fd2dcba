// Turns a cyclictest --json result (rt-tests 2.x) into a run file, so that compare, merge and report
// read cyclictest runs like rtlat's own. cyclictest's JSON keeps per thread only cycles, min, max,
// avg and (with -h) a per-bucket histogram; everything else is read back from its command line, and
// what neither says (TIDs, overruns, last latency, what the kernel applied) is null.
import type { Fingerprint } from '../fingerprint/index.js';
import { addBeyond, encodeHistogram, newHistogram, percentilesOf, type Histogram } from '../engine/histogram.js';
import { RUN_SCHEMA, RUN_SCHEMA_VERSION, type BeyondHistogram, type MicrosecondHistogram, type RunConfig, type RunFile, type RunThread } from '../run-file/schema.js';
import { combineLatencies } from '../run-file/summary.js';
import { NS_PER_S, NS_PER_US } from '../units.js';
import { CyclictestExit, parseCyclictestArgs, parseCyclictestVersion, type CyclictestSettings, type CyclictestVersion, type MachineView, type ParseOutcome } from '../cyclictest/index.js';

/** One thread of a cyclictest --json file, as cyclictest wrote it. */
export interface CyclictestJsonThread {
  /** Bucket (in the run's unit, us unless -N) -> count; only non-empty buckets, overflows excluded. */
  histogram: Record<string, number>;
  cycles: number;
  min: number;
  max: number;
  avg: number;
  cpu: number;
  node: number;
}

/** A cyclictest --json file, checked. The keys ending in ':' are spelled so by cyclictest itself. */
export interface CyclictestJson {
  fileVersion: number;
  commandLine: string;
  version: string;
  startTime: Date;
  endTime: Date;
  returnCode: number;
  sysinfo: Record<string, unknown> | null;
  /** 1 when the file says its values are in ns (cyclictest -N, which its command line says too), else us. */
  resolutionInNs: number;
  threads: CyclictestJsonThread[];
}

export interface ImportOptions {
  /** Stored as the run's environment; null when not given. */
  environment?: Fingerprint | null;
  rtlatVersion: string;
}

const PROBLEM = 'not a cyclictest --json file';
/** The layouts of cyclictest's --json this importer reads: rt-tests 2.x writes file_version 1. */
export const CYCLICTEST_FILE_VERSIONS: readonly number[] = [1];

/** Reads and checks a cyclictest --json file; throws an Error naming the problem in one line. */
export function parseCyclictestJson(text: string): CyclictestJson {
  let data: unknown;
  try {
    // A thread that never woke (cyclictest stops every thread when the first reaches -l) gets an avg
    // of 0/0, which cyclictest prints as "-nan" or "nan": not JSON. Its count of 0 says all there is.
    data = JSON.parse(text.replace(/(:\s*)-?nan\b/g, '$1null'));
  } catch (error) {
    throw new Error(`${PROBLEM}: invalid JSON (${oneLine((error as Error).message)})`);
  }
  if (!isObject(data)) throw new Error(`${PROBLEM}: the top level is not a JSON object`);
  const commandLine = data['cmdline:'] ?? data['cmdline'];
  const version = data['rt_test_version:'] ?? data['rt_test_version'];
  if (typeof commandLine !== 'string') throw new Error(`${PROBLEM}: "cmdline:" is missing or not a string`);
  if (typeof version !== 'string') throw new Error(`${PROBLEM}: "rt_test_version:" is missing or not a string`);
  // A cyclictest file, then: of a layout this importer knows?
  const fileVersion = data['file_version'];
  if (typeof fileVersion !== 'number' || !CYCLICTEST_FILE_VERSIONS.includes(fileVersion)) {
    const given = fileVersion === undefined ? '"file_version" is missing' : `"file_version" is ${JSON.stringify(fileVersion)}`;
    throw new Error(`${given}: rtlat reads cyclictest --json file_version ${CYCLICTEST_FILE_VERSIONS.join(', ')} (rt-tests 2.x)`);
  }
  const numThreads = wholeNumber(data, 'num_threads', '');
  const threadsObject = data['thread'];
  if (!isObject(threadsObject)) throw new Error(`${PROBLEM}: "thread" is missing or not an object`);
  const threads: CyclictestJsonThread[] = [];
  for (let index = 0; index < numThreads; index++) {
    const entry = threadsObject[String(index)];
    const where = `thread "${index}"`;
    if (!isObject(entry)) throw new Error(`${PROBLEM}: num_threads is ${numThreads} but ${where} is missing`);
    const histogram = entry['histogram'] ?? {};
    if (!isObject(histogram)) throw new Error(`${PROBLEM}: ${where} has a "histogram" that is not an object`);
    const buckets: Record<string, number> = {};
    for (const [bucket, count] of Object.entries(histogram)) {
      if (!/^\d+$/.test(bucket) || typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
        throw new Error(`${PROBLEM}: ${where} has a histogram entry "${bucket}": ${JSON.stringify(count)} that is not bucket -> count`);
      }
      buckets[bucket] = count;
    }
    threads.push({
      histogram: buckets,
      cycles: wholeNumber(entry, 'cycles', where),
      min: finiteNumber(entry, 'min', where),
      max: finiteNumber(entry, 'max', where),
      avg: entry['avg'] === null && entry['cycles'] === 0 ? 0 : finiteNumber(entry, 'avg', where),
      cpu: typeof entry['cpu'] === 'number' ? entry['cpu'] : -1,
      node: typeof entry['node'] === 'number' ? entry['node'] : -1,
    });
  }
  return {
    fileVersion,
    commandLine,
    version,
    startTime: dateOf(data, 'start_time'),
    endTime: dateOf(data, 'end_time'),
    returnCode: typeof data['return_code'] === 'number' ? data['return_code'] : 0,
    sysinfo: isObject(data['sysinfo']) ? data['sysinfo'] : null,
    resolutionInNs: data['resolution_in_ns'] === 1 ? 1 : 0,
    threads,
  };
}

/** A cyclictest --json file as a run file (tool: cyclictest). */
export function importCyclictestJson(text: string, options: ImportOptions): RunFile {
  const file = parseCyclictestJson(text);
  const settings = readCommandLine(file);
  const nsPerUnit = file.resolutionInNs || settings.nsecs ? 1 : NS_PER_US;
  // cyclictest's -h/-H, in us; null without a histogram.
  const histogramMaxUs = settings.histogramUs || null;
  const imported = file.threads.map((thread, index) => importThread(thread, index, settings, histogramMaxUs, nsPerUnit));
  // cyclictest's endless runs: -l 0 (or negative, compared as huge) and -D 0.
  const loops = settings.loops > 0 ? settings.loops : null;
  const durationNs = settings.durationS > 0 ? settings.durationS * NS_PER_S : null;
  const threads = imported.map(({ thread }) => thread);
  const config: RunConfig = {
    periodNs: settings.intervalUs * NS_PER_US,
    policy: settings.policy,
    priority: settings.priority,
    // cyclictest's -c: 1 is CLOCK_REALTIME; 0 and the 2 it lets through past its table read as its default.
    clock: settings.clock === 1 ? 'realtime' : 'monotonic',
    // The distance (0 already with a histogram) only matters from a second thread on.
    distanceNs: threads.length < 2 ? 0 : settings.distanceUs * NS_PER_US,
    aligned: settings.secaligned,
    alignOffsetNs: settings.secaligned ? settings.alignUs * NS_PER_US : null,
    staggerNs: settings.aligned ? settings.alignUs * NS_PER_US : null,
    loops,
    // cyclictest's main loop stops every thread once the first has its loops.
    loopsEndAll: loops !== null,
    durationNs,
    cpus: threads.map((thread) => thread.cpu),
    mainCpus: settings.mainAffinity,
    lockMemory: settings.mlockall,
    dmaLatency: !settings.keepPowerManagement,
    // cyclictest has no such switch: it warns and carries on where rtlat would refuse by default.
    allowDegraded: true,
    spikeThresholdNs: thresholdNs(settings.spike, nsPerUnit),
    breakThresholdNs: thresholdNs(settings.breaktrace, nsPerUnit),
    histogramMaxUs,
  };
  return {
    schema: RUN_SCHEMA,
    schemaVersion: RUN_SCHEMA_VERSION,
    tool: { name: 'cyclictest', version: file.version },
    rtlatVersion: options.rtlatVersion,
    commandLine: file.commandLine,
    startTime: file.startTime.toISOString(),
    endTime: file.endTime.toISOString(),
    config,
    environment: options.environment ?? null,
    degraded: [],
    // cyclictest prints whether it held /dev/cpu_dma_latency but does not write it into the JSON.
    dmaLatencyHeld: null,
    // An endless run (no -l, no -D) can only have ended by a signal.
    stoppedBy: loops === null && durationNs === null ? 'signal' : 'completed',
    breaktrace: null,
    threads,
    all: allThreads(imported),
    spikes: [],
    spikesOmitted: 0,
    load: null,
    during: null,
    hostEnvironment: null,
    guest: null,
  };
}

/**
 * The most CPUs a Linux kernel can have (NR_CPUS at its largest): the machine that ran cyclictest is
 * unknown, so any CPU list cyclictest accepted there reads here as written.
 */
const MAX_CPUS = 8192;

/**
 * Reads back the settings of a run from cyclictest's command line (argv joined by spaces) with the model
 * `rtlat cyclictest` runs, so both read it as cyclictest does, defaults included (1000us interval, 500us
 * distance, priority 0 under SCHED_OTHER, endless, /dev/cpu_dma_latency held). A command line cyclictest
 * would have refused is refused, in one line: no cyclictest run could have written it.
 */
function readCommandLine(file: CyclictestJson): CyclictestSettings {
  const argv = file.commandLine.trim().split(/\s+/).slice(1);
  // The file's own version decides which options there were; an environment of its own keeps this
  // process's POSIXLY_CORRECT and RTLAT_CYCLICTEST_VERSION out of a command line read back from a file.
  const env = { RTLAT_CYCLICTEST_VERSION: versionOf(file.version).printed };
  let outcome: ParseOutcome;
  try {
    outcome = parseCyclictestArgs(argv, machineOf(file.threads.length), env);
  } catch (error) {
    if (error instanceof CyclictestExit) throw new Error(`"cmdline:" is not a command line cyclictest runs: ${error.message}`);
    throw error;
  }
  if (outcome.kind === 'help') throw new Error('"cmdline:" asks for cyclictest\'s help, with which cyclictest measures nothing');
  return outcome.settings;
}

/** The file's cyclictest version; one newer than rtlat knows (the same file_version) is read as the newest it knows. */
function versionOf(text: string): CyclictestVersion {
  try {
    return parseCyclictestVersion(text);
  } catch {
    return parseCyclictestVersion(undefined);
  }
}

/**
 * The machine cyclictest ran on, as far as its command line needs one. Only its thread count is known
 * (the file's threads): "-t" and "-S" without a number mean that many, as the file's CPUs 0 to N-1 stand
 * for the CPUs it was allowed; CPU lists read as written; and no NUMA, so -a with -S (which only a
 * NUMA machine refuses) reads as it ran.
 */
function machineOf(threads: number): MachineView {
  return { configuredCpus: MAX_CPUS, allowedCpus: Array.from({ length: threads }, (_, cpu) => cpu), numa: false };
}

/** cyclictest's -b and --spike (0: off), in ns. */
function thresholdNs(value: number, nsPerUnit: number): number | null {
  return value > 0 ? value * nsPerUnit : null;
}

interface ImportedThread {
  thread: RunThread;
  histogram: Histogram | null;
}

function importThread(thread: CyclictestJsonThread, index: number, settings: CyclictestSettings, histogramMaxUs: number | null, nsPerUnit: number): ImportedThread {
  const entries = Object.entries(thread.histogram).map(([bucket, count]) => [Number(bucket), count] as const);
  const binned = entries.reduce((total, [, count]) => total + count, 0);
  // A histogram exists when -h/-H was given, even if (all overflowing) none of its buckets were written.
  const kept = histogramMaxUs !== null || entries.length > 0;
  const overflows = Math.max(thread.cycles - binned, 0);
  const maxNs = thread.max * nsPerUnit;
  let histogram: Histogram | null = null;
  let beyond: BeyondHistogram | null = null;
  if (kept && thread.cycles > 0) {
    histogram = newHistogram('cumulative');
    // cyclictest kept whole units (us, or ns with -N): each bucket is recorded at its lower edge, the
    // resolution the file has.
    for (const [bucket, count] of entries) if (count > 0) histogram.recordValueWithCount(bucket * nsPerUnit, count);
    // Of an overflow cyclictest keeps nothing but that it reached the histogram's limit: it stays out of
    // the histogram, and a percentile that falls among the overflows is a bound (>= the limit), not a value.
    if (overflows > 0) beyond = { count: overflows, fromNs: histogramLimit(entries, histogramMaxUs) * nsPerUnit };
  }
  const imported: RunThread = {
    thread: index,
    cpu: thread.cpu >= 0 ? thread.cpu : null,
    tid: null,
    periodNs: (settings.intervalUs + index * settings.distanceUs) * NS_PER_US,
    applied: null,
    memoryLocked: null,
    pageFaults: null,
    count: thread.cycles,
    minNs: thread.min * nsPerUnit,
    avgNs: thread.avg * nsPerUnit,
    maxNs,
    lastNs: null,
    // cyclictest's Avg sums whole microseconds, as its histogram buckets them: with every wake-up binned,
    // the buckets give that sum exactly; otherwise only the 2 decimals of its JSON mean are known.
    sumUs: kept && overflows === 0 && nsPerUnit === NS_PER_US ? entries.reduce((total, [bucket, count]) => total + bucket * count, 0) : null,
    overruns: null,
    dropped: 0,
    percentiles: histogram ? percentilesOf(histogram, beyond) : [],
    corrected: null,
    histogram: histogram ? encodeHistogram(histogram) : null,
    beyondHistogram: beyond,
    correctedHistogram: null,
    microsecondHistogram: kept && nsPerUnit === NS_PER_US ? microsecondHistogram(entries, overflows, histogramMaxUs) : null,
    // cyclictest keeps no order of its samples: nothing for extreme-value analysis.
    extremes: null,
  };
  return { thread: imported, histogram };
}

/** The first value beyond the histogram (cyclictest's -h/-H limit), in the file's unit; past the last bucket written when the command line does not say. */
function histogramLimit(entries: readonly (readonly [number, number])[], limit: number | null): number {
  return limit ?? Math.max(-1, ...entries.map(([bucket]) => bucket)) + 1;
}

function microsecondHistogram(entries: (readonly [number, number])[], overflows: number, limitUs: number | null): MicrosecondHistogram {
  const maxUs = histogramLimit(entries, limitUs);
  const buckets = new Array<number>(maxUs).fill(0);
  for (const [us, count] of entries) if (us < maxUs) buckets[us] = count;
  // The JSON counts overflows but does not say at which cycles they happened.
  return { maxUs, buckets, overflows, overflowCycles: [] };
}

function allThreads(imported: ImportedThread[]): RunFile['all'] {
  const counted = imported.filter(({ thread }) => thread.count > 0);
  let merged: Histogram | null = null;
  if (counted.length > 0 && counted.every(({ histogram }) => histogram !== null)) {
    merged = newHistogram('cumulative');
    for (const { histogram } of counted) merged.add(histogram!);
  }
  const beyond = merged ? addBeyond(counted.map(({ thread }) => thread.beyondHistogram)) : null;
  return {
    ...summaryOf(counted.map(({ thread }) => thread)),
    percentiles: merged ? percentilesOf(merged, beyond) : [],
    histogram: merged ? encodeHistogram(merged) : null,
    beyondHistogram: beyond,
  };
}

function summaryOf(counted: RunThread[]): Omit<RunFile['all'], 'percentiles' | 'histogram'> {
  const { count, minNs, avgNs, maxNs } = combineLatencies(counted);
  return { count, minNs, avgNs, maxNs, overruns: null, dropped: 0 };
}

function dateOf(data: Record<string, unknown>, key: string): Date {
  const value = data[key];
  // cyclictest writes RFC 2822 dates ("Fri, 27 Nov 2026 06:16:35 +0000"), which Date parses.
  const date = typeof value === 'string' ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) throw new Error(`${PROBLEM}: "${key}" is missing or not a date`);
  return date;
}

function wholeNumber(data: Record<string, unknown>, key: string, where: string): number {
  const value = data[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${PROBLEM}: ${where ? `${where} has ` : ''}"${key}" ${value === undefined ? 'missing' : `${JSON.stringify(value)}, not a whole number`}`);
  }
  return value;
}

function finiteNumber(data: Record<string, unknown>, key: string, where: string): number {
  const value = data[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`${PROBLEM}: ${where} has "${key}" ${value === undefined ? 'missing' : `${JSON.stringify(value)}, not a number`}`);
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function oneLine(text: string): string {
  return text.split('\n')[0]!;
}
