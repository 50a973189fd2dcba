// Turns a cyclictest --json result (rt-tests 2.x) into a run file, so that compare, merge and report
// read cyclictest runs like rtlat's own. cyclictest's JSON keeps per thread only cycles, min, max,
// avg and (with -h) a per-bucket histogram; everything else is read back from its command line, and
// what neither says (TIDs, overruns, last latency, what the kernel applied) is null.
import type { Fingerprint } from '../fingerprint/index.js';
import { addBeyond, encodeHistogram, newHistogram, percentilesOf, type Histogram } from '../engine/histogram.js';
import { RUN_SCHEMA, RUN_SCHEMA_VERSION, type BeyondHistogram, type MicrosecondHistogram, type RunConfig, type RunFile, type RunThread } from '../run-file/schema.js';
import { combineLatencies } from '../run-file/summary.js';
import { NS_PER_S, NS_PER_US, parseCpuList } from '../units.js';

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
  /** 1 when values are in ns (cyclictest -N), else us. */
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
    resolutionInNs: data['resolution_in_ns'] === 1 || /(^|\s)(-N|--nsecs)(\s|$)/.test(commandLine) ? 1 : 0,
    threads,
  };
}

/** A cyclictest --json file as a run file (tool: cyclictest). */
export function importCyclictestJson(text: string, options: ImportOptions): RunFile {
  const file = parseCyclictestJson(text);
  const args = parseCommandLine(file.commandLine, file.threads.length);
  const nsPerUnit = file.resolutionInNs ? 1 : NS_PER_US;
  const imported = file.threads.map((thread, index) => importThread(thread, index, args, nsPerUnit));
  const threads = imported.map(({ thread }) => thread);
  const config: RunConfig = {
    periodNs: args.intervalUs * NS_PER_US,
    policy: args.policy,
    priority: args.priority,
    clock: args.clock,
    distanceNs: args.distanceUs * NS_PER_US,
    aligned: args.secaligned,
    loops: args.loops,
    durationNs: args.durationS === null ? null : args.durationS * NS_PER_S,
    cpus: threads.map((thread) => thread.cpu),
    mainCpus: args.mainCpus,
    lockMemory: args.mlockall,
    dmaLatency: args.dmaLatency,
    // cyclictest has no such switch: it warns and carries on where rtlat would refuse by default.
    allowDegraded: true,
    spikeThresholdNs: args.spikeUs === null ? null : args.spikeUs * NS_PER_US,
    breakThresholdNs: args.breaktraceUs === null ? null : args.breaktraceUs * NS_PER_US,
    histogramMaxUs: args.histogramMaxUs,
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
    stoppedBy: args.loops === null && args.durationS === null ? 'signal' : 'completed',
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

interface CommandLineArgs {
  intervalUs: number;
  distanceUs: number;
  priority: number;
  policy: string;
  clock: 'monotonic' | 'realtime';
  loops: number | null;
  durationS: number | null;
  mlockall: boolean;
  dmaLatency: boolean;
  secaligned: boolean;
  histogramMaxUs: number | null;
  breaktraceUs: number | null;
  spikeUs: number | null;
  mainCpus: number[] | null;
}

// cyclictest's options that take a value. Its getopt string has "a::A::" and "t::" (optional values),
// and for those cyclictest also takes the next word when it is a number (-t 4, -A 500), so -a, -A, -t,
// --affinity, --aligned, --threads and --secaligned take a value only when it is attached or a number
// follows: `-A -p 99` is -A without an offset, then priority 99.
const SHORT_WITH_VALUE = new Set('bcdDFhHilop'.split(''));
const SHORT_OPTIONAL_VALUE = new Set(['a', 'A', 't']);
const SHORT_TO_LONG: Record<string, string> = {
  a: 'affinity', A: 'aligned', b: 'breaktrace', c: 'clock', d: 'distance', D: 'duration', F: 'fifo',
  h: 'histogram', H: 'histofall', i: 'interval', l: 'loops', m: 'mlockall', M: 'refresh_on_max',
  N: 'nsecs', o: 'oscope', p: 'priority', q: 'quiet', r: 'relative', R: 'resolution', s: 'system',
  S: 'smp', t: 'threads', u: 'unbuffered', v: 'verbose', x: 'posix_timers',
};
const LONG_OPTIONAL_VALUE = new Set(['affinity', 'aligned', 'threads', 'secaligned']);
const LONG_WITH_VALUE = new Set([
  'breaktrace', 'clock', 'distance', 'duration', 'fifo', 'histogram', 'histofall', 'histfile',
  'interval', 'json', 'latency', 'loops', 'mainaffinity', 'oscope', 'policy', 'priority', 'spike',
  'spike-nodes', 'deepest-idle-state',
]);

/**
 * Reads back the settings of a run from cyclictest's command line (argv joined by spaces), with
 * cyclictest's defaults for what it does not give: 1000us interval, 500us distance (0 with -h/-H),
 * priority 0 (SCHED_OTHER; a priority alone means SCHED_FIFO), endless loops, DMA latency held at 0
 * unless --default-system or --laptop.
 */
function parseCommandLine(commandLine: string, threads: number): CommandLineArgs {
  const options = new Map<string, string>();
  const tokens = commandLine.trim().split(/\s+/).slice(1);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const next = tokens[i + 1];
    const nextIsValue = next !== undefined && /^\d/.test(next);
    if (token.startsWith('--')) {
      const [name, attached] = splitOnce(token.slice(2), '=');
      if (attached !== undefined) options.set(name, attached);
      else if (LONG_WITH_VALUE.has(name) && next !== undefined) options.set(name, tokens[++i]!);
      else if (LONG_OPTIONAL_VALUE.has(name) && nextIsValue) options.set(name, tokens[++i]!);
      else options.set(name, '');
    } else if (token.startsWith('-') && token.length > 1) {
      // Short flags may be bundled (-mq); a flag taking a value takes the rest of the token or the next one.
      for (let j = 1; j < token.length; j++) {
        const flag = token[j]!;
        const name = SHORT_TO_LONG[flag] ?? flag;
        const rest = token.slice(j + 1);
        if (SHORT_WITH_VALUE.has(flag)) {
          options.set(name, rest !== '' ? rest : next !== undefined ? tokens[++i]! : '');
          break;
        }
        if (SHORT_OPTIONAL_VALUE.has(flag)) {
          options.set(name, rest !== '' ? rest : nextIsValue ? tokens[++i]! : '');
          break;
        }
        options.set(name, '');
      }
    }
  }

  const number = (name: string): number | null => {
    const value = options.get(name);
    if (value === undefined || !/^\d+$/.test(value)) return null;
    return Number(value);
  };
  const histogramMaxUs = number('histogram') ?? number('histofall');
  const priority = number('priority') ?? 0;
  const policyName = options.get('policy');
  const policy = policyName ? (policyName === 'normal' ? 'other' : policyName) : priority > 0 ? 'fifo' : 'other';
  const loops = number('loops');
  const duration = options.get('duration');
  return {
    intervalUs: number('interval') ?? 1000,
    // cyclictest sets the distance to 0 whenever it keeps a histogram, and it matters only with threads.
    distanceUs: histogramMaxUs !== null || threads < 2 ? 0 : (number('distance') ?? 500),
    priority,
    policy,
    clock: number('clock') === 1 ? 'realtime' : 'monotonic',
    loops: loops ? loops : null,
    durationS: duration === undefined ? null : parseDurationS(duration),
    mlockall: options.has('mlockall'),
    dmaLatency: !options.has('default-system') && !options.has('laptop'),
    secaligned: options.has('secaligned'),
    histogramMaxUs,
    breaktraceUs: number('breaktrace'),
    spikeUs: number('spike'),
    mainCpus: cpuList(options.get('mainaffinity')),
  };
}

/** cyclictest's --mainaffinity=CPUSET; null when absent or not a plain CPU list. */
function cpuList(value: string | undefined): number[] | null {
  if (!value) return null;
  try {
    return parseCpuList('mainaffinity', value);
  } catch {
    return null;
  }
}

/** cyclictest's -D: seconds, or a number with s/m/h/d; 0 means endless. */
function parseDurationS(text: string): number | null {
  const match = /^(\d+)([smhdSMHD]?)$/.exec(text);
  if (!match) return null;
  const scale: Record<string, number> = { '': 1, s: 1, m: 60, h: 3_600, d: 86_400 };
  const seconds = Number(match[1]) * scale[match[2]!.toLowerCase()]!;
  return seconds || null;
}

interface ImportedThread {
  thread: RunThread;
  histogram: Histogram | null;
}

function importThread(thread: CyclictestJsonThread, index: number, args: CommandLineArgs, nsPerUnit: number): ImportedThread {
  const entries = Object.entries(thread.histogram).map(([bucket, count]) => [Number(bucket), count] as const);
  const binned = entries.reduce((total, [, count]) => total + count, 0);
  // A histogram exists when -h/-H was given, even if (all overflowing) none of its buckets were written.
  const kept = args.histogramMaxUs !== null || entries.length > 0;
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
    if (overflows > 0) beyond = { count: overflows, fromNs: histogramLimit(entries, args.histogramMaxUs) * nsPerUnit };
  }
  const imported: RunThread = {
    thread: index,
    cpu: thread.cpu >= 0 ? thread.cpu : null,
    tid: null,
    periodNs: (args.intervalUs + index * args.distanceUs) * NS_PER_US,
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
    microsecondHistogram: kept && nsPerUnit === NS_PER_US ? microsecondHistogram(entries, overflows, args.histogramMaxUs) : null,
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

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function oneLine(text: string): string {
  return text.split('\n')[0]!;
}
