// cyclictest's command line as cyclictest 2.x reads it (process_options in rt-tests'
// src/cyclictest/cyclictest.c): its options, read in order with its getopt_long, then its own checks and
// defaults. The result says what cyclictest would run; cli/cyclictest/plan.ts decides what of it rtlat runs.
import { getoptAll, getoptLong, GetoptError, type LongOption, type ParsedOption } from './getopt.js';
import { parseCyclictestVersion, type CyclictestVersion } from './version.js';

/** What the machine looks like to cyclictest's option checks. */
export interface MachineView {
  /** CPUs configured (sysconf(_SC_NPROCESSORS_CONF)): the range of a CPU list. */
  configuredCpus: number;
  /** This process's affinity mask: "-t" without a number and "-a" without a list use these. */
  allowedCpus: number[];
  /** libnuma's numa_available(): a NUMA-capable kernel. */
  numa: boolean;
}

export type Policy = 'other' | 'batch' | 'idle' | 'fifo' | 'rr';

/** cyclictest's settings once its options are read and checked. Units as cyclictest keeps them. */
export interface CyclictestSettings {
  version: CyclictestVersion;
  /** Where threads go: not pinned, round-robin over this process's CPUs, or over a given list. */
  affinity: { kind: 'unpinned' } | { kind: 'all' } | { kind: 'list'; cpus: number[] };
  /** -A: start every thread together, thread N offset by N * alignUs. */
  aligned: boolean;
  /** --secaligned: start on the next full second, plus alignUs. */
  secaligned: boolean;
  alignUs: number;
  /** -b: stop when a latency exceeds this (us, or ns with -N); 0: off. */
  breaktrace: number;
  /** -c: 0 CLOCK_MONOTONIC, 1 CLOCK_REALTIME (cyclictest lets 2 through, past its table). */
  clock: number;
  /** --default-system or --laptop: leave /dev/cpu_dma_latency alone. */
  keepPowerManagement: boolean;
  /** Added to each further thread's interval, us (0 when a histogram is kept). */
  distanceUs: number;
  /** -D: seconds; 0: endless. */
  durationS: number;
  fifoPath: string | null;
  /** -h/-H: buckets of 1us (0: no histogram). */
  histogramUs: number;
  /** -H: the histogram gets a column summing every thread. */
  histogramSum: boolean;
  histfile: string | null;
  intervalUs: number;
  jsonFile: string | null;
  /** --latency: the /dev/cpu_dma_latency target. */
  latencyTargetUs: number;
  /** -l: wake-ups; 0 (or negative, which cyclictest compares as huge): endless. */
  loops: number;
  /** --mainaffinity: null when not given or not a CPU list (which cyclictest ignores). */
  mainAffinity: number[] | null;
  mlockall: boolean;
  refreshOnMax: boolean;
  nsecs: boolean;
  oscope: number;
  priority: number;
  /** The policy asked for; batch and idle become other in the threads, as cyclictest gives them no priority. */
  policy: Policy;
  priospread: boolean;
  quiet: boolean;
  relative: boolean;
  resolution: boolean;
  system: boolean;
  smp: boolean;
  smi: boolean;
  threads: number;
  /** --spike: record wake-ups above this (us, or ns with -N); 0: off. */
  spike: number;
  spikeNodes: number;
  tracemark: boolean;
  unbuffered: boolean;
  verbose: boolean;
  posixTimers: boolean;
  debug: boolean;
  /** --deepest-idle-state (2.8 and later); null when not given. */
  deepestIdleState: number | null;
  /** The options as written (last spelling of each), for messages about them. */
  spelled: Map<string, string>;
  /** rtlat's own additions. */
  rtlat: {
    json: string | null;
    hdrLog: string | null;
    /** --rtlat-explain[=US]: null when not given; '' without a threshold (the run's p99.9). */
    explain: string | null;
    explainMax: string | null;
  };
}

export type ParseOutcome =
  | { kind: 'help'; version: CyclictestVersion }
  | { kind: 'run'; settings: CyclictestSettings; warnings: string[]; notes: string[] };

/**
 * cyclictest stopped before running: exitCode 1 where cyclictest shows its help for a bad value or
 * calls fatal(), 2 where its getopt_long rejects the command line (cyclictest would print its help and
 * exit 0, which hides the mistake from a script).
 */
export class CyclictestExit extends Error {
  override name = 'CyclictestExit';
  constructor(
    message: string,
    readonly exitCode: number,
    /** Lines cyclictest prints on stderr before giving up (its WARN:s), in order. */
    readonly warnings: readonly string[] = [],
  ) {
    super(message);
  }
}

export const OPTSTRING = 'a::A::b:c:d:D:F:h:H:i:l:MNo:p:mqrRsSt::uvD:x';

/** getopt_long's table, in cyclictest's order (which is the order glibc lists ambiguous matches in). */
const CYCLICTEST_LONG_OPTIONS: readonly (LongOption & { sinceMinor?: number })[] = [
  { name: 'affinity', argument: 'optional', id: 'a' },
  { name: 'aligned', argument: 'optional', id: 'A' },
  { name: 'breaktrace', argument: 'required', id: 'b' },
  { name: 'clock', argument: 'required', id: 'c' },
  { name: 'default-system', argument: 'none', id: 'default-system' },
  { name: 'distance', argument: 'required', id: 'd' },
  { name: 'duration', argument: 'required', id: 'D' },
  { name: 'latency', argument: 'required', id: 'latency' },
  { name: 'fifo', argument: 'required', id: 'F' },
  { name: 'histogram', argument: 'required', id: 'h' },
  { name: 'histofall', argument: 'required', id: 'H' },
  { name: 'histfile', argument: 'required', id: 'histfile' },
  { name: 'interval', argument: 'required', id: 'i' },
  { name: 'json', argument: 'required', id: 'json' },
  { name: 'laptop', argument: 'none', id: 'laptop' },
  { name: 'loops', argument: 'required', id: 'l' },
  { name: 'mainaffinity', argument: 'required', id: 'mainaffinity' },
  { name: 'mlockall', argument: 'none', id: 'm' },
  { name: 'refresh_on_max', argument: 'none', id: 'M' },
  { name: 'nsecs', argument: 'none', id: 'N' },
  { name: 'oscope', argument: 'required', id: 'o' },
  { name: 'priority', argument: 'required', id: 'p' },
  { name: 'quiet', argument: 'none', id: 'q' },
  { name: 'priospread', argument: 'none', id: 'priospread' },
  { name: 'relative', argument: 'none', id: 'r' },
  { name: 'resolution', argument: 'none', id: 'R' },
  { name: 'secaligned', argument: 'optional', id: 'secaligned' },
  { name: 'system', argument: 'none', id: 's' },
  { name: 'smi', argument: 'none', id: 'smi' },
  { name: 'smp', argument: 'none', id: 'S' },
  { name: 'spike', argument: 'required', id: 'spike' },
  { name: 'spike-nodes', argument: 'required', id: 'spike-nodes' },
  { name: 'threads', argument: 'optional', id: 't' },
  { name: 'tracemark', argument: 'none', id: 'tracemark' },
  { name: 'unbuffered', argument: 'none', id: 'u' },
  { name: 'verbose', argument: 'none', id: 'v' },
  { name: 'dbg_cyclictest', argument: 'none', id: 'dbg_cyclictest' },
  { name: 'policy', argument: 'required', id: 'policy' },
  { name: 'help', argument: 'none', id: 'help' },
  { name: 'posix_timers', argument: 'none', id: 'x' },
  { name: 'deepest-idle-state', argument: 'required', id: 'deepest-idle-state', sinceMinor: 8 },
];

/**
 * rtlat's additions. Spelled out in full only, so that cyclictest's own abbreviations keep their meaning
 * (--c is still --clock).
 */
const RTLAT_LONG_OPTIONS: readonly LongOption[] = [
  { name: 'cyclictest-version', argument: 'required', id: 'cyclictest-version', exactOnly: true },
  { name: 'rtlat-json', argument: 'required', id: 'rtlat-json', exactOnly: true },
  { name: 'rtlat-hdr-log', argument: 'required', id: 'rtlat-hdr-log', exactOnly: true },
  { name: 'rtlat-explain', argument: 'optional', id: 'rtlat-explain', exactOnly: true },
  { name: 'rtlat-explain-max', argument: 'required', id: 'rtlat-explain-max', exactOnly: true },
];

/** The long options a given cyclictest version has, and rtlat's. */
export function longOptionsFor(version: CyclictestVersion): LongOption[] {
  return [...CYCLICTEST_LONG_OPTIONS.filter((option) => (option.sinceMinor ?? 0) <= version.minor), ...RTLAT_LONG_OPTIONS];
}

/** Every cyclictest option as a user may write it: "-m", "--mlockall", ... (for rtlat measure's hints). */
export const CYCLICTEST_SPELLINGS: ReadonlyMap<string, string> = new Map([
  ...[...new Set(OPTSTRING.replace(/:/g, ''))].map((letter) => [`-${letter}`, letter] as const),
  ...CYCLICTEST_LONG_OPTIONS.map((option) => [`--${option.name}`, option.id] as const),
]);

const HIST_MAX = 1_000_000;
const DEFAULT_INTERVAL_US = 1000;
const DEFAULT_DISTANCE_US = 500;

/** C's atoi (strtol base 10, wrapped to int): leading blanks, a sign, digits, then anything. */
export function atoi(text: string): number {
  const match = /^[ \t\n\v\f\r]*([+-]?)(\d*)/.exec(text)!;
  if (match[2] === '') return 0;
  let value = BigInt(match[2]!);
  if (match[1] === '-') value = -value;
  const longMax = (1n << 63n) - 1n;
  if (value > longMax) value = longMax;
  if (value < -longMax - 1n) value = -longMax - 1n;
  return Number(BigInt.asIntN(32, value));
}

/** rt-utils' parse_time_string: a number of seconds, optionally followed by m, h or d (any case). */
export function parseTimeString(text: string): number {
  const match = /^[ \t\n\v\f\r]*([+-]?\d+)(.?)/.exec(text);
  if (!match) return 0;
  const scale: Record<string, number> = { m: 60, h: 3_600, d: 86_400 };
  return Number(BigInt.asIntN(32, BigInt(atoi(match[1]!)) * BigInt(scale[match[2]!.toLowerCase()] ?? 1)));
}

/**
 * libnuma's numa_parse_cpustring_all, as cyclictest's parse_cpumask uses it: "0-3,6", "all", a leading
 * "!" for every CPU but those, a leading "+" for positions within this process's CPUs; the result is
 * then limited to this process's CPUs when "!" or "+" appear. null where libnuma fails or the set is empty.
 */
export function parseCpuMask(text: string, machine: MachineView): number[] | null {
  let body = text;
  const invert = body.startsWith('!');
  if (invert) body = body.slice(1);
  const relative = body.startsWith('+');
  if (relative) body = body.slice(1);
  const set = new Set<number>();
  for (const part of body.split(',')) {
    if (part === 'all') {
      for (let cpu = 0; cpu < machine.configuredCpus; cpu++) set.add(cpu);
      continue;
    }
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!match) return null;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) return null;
    for (let position = first; position <= last; position++) {
      const cpu = relative ? machine.allowedCpus[position] : position;
      if (cpu === undefined || cpu >= machine.configuredCpus) return null;
      set.add(cpu);
    }
  }
  let cpus = invert ? range(machine.configuredCpus).filter((cpu) => !set.has(cpu)) : [...set].sort((a, b) => a - b);
  if (invert || relative || text.includes('!') || text.includes('+')) cpus = cpus.filter((cpu) => machine.allowedCpus.includes(cpu));
  return cpus.length ? cpus : null;
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index);
}

/** The version this command line asks for: its --cyclictest-version, else RTLAT_CYCLICTEST_VERSION, else the newest. */
function versionOf(argv: readonly string[], env: NodeJS.ProcessEnv): CyclictestVersion {
  const newest = parseCyclictestVersion(undefined);
  let asked: ParsedOption | undefined;
  try {
    asked = getoptAll(argv, OPTSTRING, longOptionsFor(newest), env).options.filter((option) => option.id === 'cyclictest-version').pop();
  } catch {
    // Reported by the real pass, with the version's own table.
  }
  const text = asked?.argument ?? env.RTLAT_CYCLICTEST_VERSION;
  try {
    return parseCyclictestVersion(text);
  } catch (error) {
    const where = asked ? '--cyclictest-version' : 'RTLAT_CYCLICTEST_VERSION';
    throw new CyclictestExit(`${where}: ${(error as Error).message}`, 2);
  }
}

/** Reads argv (without the program name) as cyclictest's process_options does. */
export function parseCyclictestArgs(argv: readonly string[], machine: MachineView, env: NodeJS.ProcessEnv = process.env): ParseOutcome {
  const version = versionOf(argv, env);
  const state = new OptionReader(version, machine);
  try {
    for (const option of getoptLong(argv, OPTSTRING, longOptionsFor(version), env)) {
      if (option.id === 'help') return { kind: 'help', version };
      state.read(option);
    }
  } catch (error) {
    // cyclictest prints its help and exits 0 here; rtlat says what was wrong and fails.
    if (error instanceof GetoptError) throw new CyclictestExit(error.message, 2, state.warningsSoFar);
    throw error;
  }
  return state.finish();
}

/** The switch of process_options, one option at a time, with cyclictest's order-dependent quirks. */
class OptionReader {
  private readonly s: CyclictestSettings;
  private readonly warnings: string[] = [];
  /** Things cyclictest prints on stdout while reading options (-v before -a). */
  private readonly notes: string[] = [];
  private optionAffinity = false;
  private numaInitialised = false;
  private distanceGiven = false;
  /** cyclictest's -t without a number and -S: "one per CPU", settled once the options are read. */
  private threadsPerCpu = false;

  constructor(
    version: CyclictestVersion,
    private readonly machine: MachineView,
  ) {
    this.s = {
      version,
      affinity: { kind: 'unpinned' },
      aligned: false,
      secaligned: false,
      alignUs: 0,
      breaktrace: 0,
      clock: 0,
      keepPowerManagement: false,
      distanceUs: DEFAULT_DISTANCE_US,
      durationS: 0,
      fifoPath: null,
      histogramUs: 0,
      histogramSum: false,
      histfile: null,
      intervalUs: DEFAULT_INTERVAL_US,
      jsonFile: null,
      latencyTargetUs: 0,
      loops: 0,
      mainAffinity: null,
      mlockall: false,
      refreshOnMax: false,
      nsecs: false,
      oscope: 1,
      priority: 0,
      policy: 'other',
      priospread: false,
      quiet: false,
      relative: false,
      resolution: false,
      system: false,
      smp: false,
      smi: false,
      threads: 1,
      spike: 0,
      spikeNodes: 1024,
      tracemark: false,
      unbuffered: false,
      verbose: false,
      posixTimers: false,
      debug: false,
      deepestIdleState: null,
      spelled: new Map(),
      rtlat: { json: null, hdrLog: null, explain: null, explainMax: null },
    };
  }

  get warningsSoFar(): readonly string[] {
    return this.warnings;
  }

  read(option: ParsedOption): void {
    const s = this.s;
    const value = option.argument ?? '';
    s.spelled.set(option.id, option.argument === null ? option.spelling : `${option.spelling} ${option.argument}`);
    // cyclictest looks at the next element for a value without taking it: "-t 2", "-a 0-1", "-A 50".
    const peek = option.argument === null && option.next !== undefined ? option.next : null;
    switch (option.id) {
      case 'a': {
        this.optionAffinity = true;
        if (s.smp) break;
        this.numaInitialised = true;
        const list =
          option.argument ?? (peek !== null && (atoi(peek) !== 0 || ['0', '!', '+', 'a'].includes(peek[0] ?? '')) ? peek : null);
        if (list === null) {
          s.affinity = { kind: 'all' };
          break;
        }
        const cpus = parseCpuMask(list, this.machine);
        if (!cpus) throw new CyclictestExit(`${option.spelling} ${list}: expected a CPU list such as 0-3,6 of CPUs 0 to ${this.machine.configuredCpus - 1}`, 1);
        s.affinity = { kind: 'list', cpus };
        if (s.verbose) this.notes.push(`Using ${cpus.length} cpus.`);
        break;
      }
      case 'A':
      case 'secaligned':
        if (option.id === 'A') s.aligned = true;
        else s.secaligned = true;
        s.alignUs = option.argument !== null ? atoi(option.argument) : peek !== null && atoi(peek) !== 0 ? atoi(peek) : 0;
        break;
      case 'b':
        s.breaktrace = atoi(value);
        break;
      case 'c':
        s.clock = atoi(value);
        break;
      case 'default-system':
      case 'laptop':
        s.keepPowerManagement = true;
        this.warnings.push(option.id === 'laptop' ? 'WARN: not setting cpu_dma_latency to save battery power' : 'WARN: not setting cpu_dma_latency from cyclictest');
        break;
      case 'd':
        s.distanceUs = atoi(value);
        this.distanceGiven = true;
        break;
      case 'D':
        s.durationS = parseTimeString(value);
        break;
      case 'F':
        s.fifoPath = value;
        break;
      case 'H':
      case 'h':
        if (option.id === 'H') s.histogramSum = true;
        s.histogramUs = atoi(value);
        if (s.histogramUs === 0) throw new CyclictestExit(`${option.spelling} ${value}: expected the histogram's size in us, e.g. ${option.spelling} 400`, 1);
        break;
      case 'histfile':
        s.histfile = value;
        break;
      case 'i':
        s.intervalUs = atoi(value);
        break;
      case 'json':
        s.jsonFile = value;
        break;
      case 'l':
        s.loops = atoi(value);
        break;
      case 'mainaffinity':
        // cyclictest ignores a list it cannot parse and runs (cli/cyclictest/plan.ts refuses it).
        s.mainAffinity = parseCpuMask(value, this.machine);
        break;
      case 'm':
        s.mlockall = true;
        break;
      case 'M':
        s.refreshOnMax = true;
        break;
      case 'N':
        s.nsecs = true;
        break;
      case 'o':
        s.oscope = atoi(value);
        break;
      case 'p':
        s.priority = atoi(value);
        if (s.policy !== 'fifo' && s.policy !== 'rr') s.policy = 'fifo';
        break;
      case 'q':
        s.quiet = true;
        break;
      case 'r':
        s.relative = true;
        break;
      case 'R':
        s.resolution = true;
        break;
      case 's':
        s.system = true;
        break;
      case 'S':
        if (this.numaInitialised && this.machine.numa) throw new CyclictestExit('FATAL: numa and smp options are mutually exclusive', 1, this.warnings);
        s.smp = true;
        this.threadsPerCpu = true;
        s.affinity = { kind: 'all' };
        break;
      case 't':
        if (s.smp) {
          this.warnings.push('WARN: -t ignored due to smp mode');
          break;
        }
        if (option.argument !== null) {
          s.threads = atoi(option.argument);
          this.threadsPerCpu = s.threads === -1;
        } else if (peek !== null && atoi(peek) !== 0) {
          s.threads = atoi(peek);
          this.threadsPerCpu = s.threads === -1;
        } else {
          this.threadsPerCpu = true;
        }
        break;
      case 'spike':
        s.spike = atoi(value);
        break;
      case 'spike-nodes':
        // Only after --spike, as in cyclictest.
        if (s.spike) s.spikeNodes = atoi(value);
        break;
      case 'u':
        s.unbuffered = true;
        break;
      case 'v':
        s.verbose = true;
        break;
      case 'x':
        s.posixTimers = true;
        break;
      case 'priospread':
        s.priospread = true;
        break;
      case 'latency':
        s.latencyTargetUs = Math.max(atoi(value), 0);
        break;
      case 'policy':
        s.policy = policyNamed(value);
        break;
      case 'dbg_cyclictest':
        s.debug = true;
        break;
      case 'smi':
        s.smi = true;
        break;
      case 'tracemark':
        s.tracemark = true;
        break;
      case 'deepest-idle-state':
        s.deepestIdleState = atoi(value);
        break;
      case 'rtlat-json':
        s.rtlat.json = value;
        break;
      case 'rtlat-hdr-log':
        s.rtlat.hdrLog = value;
        break;
      case 'rtlat-explain':
        s.rtlat.explain = value;
        break;
      case 'rtlat-explain-max':
        s.rtlat.explainMax = value;
        break;
      case 'cyclictest-version':
        // Read before the options (it decides which options there are).
        break;
      default:
        throw new Error(`rtlat: cyclictest option ${option.spelling} has no reader`);
    }
  }

  /** The checks and defaults after getopt's loop, in cyclictest's order. */
  finish(): ParseOutcome {
    const s = this.s;
    const warnings = this.warnings;
    const fail = (message: string): never => {
      throw new CyclictestExit(message, 1, warnings);
    };
    const spelled = (id: string) => s.spelled.get(id) ?? `-${id}`;
    if (s.system && s.posixTimers) {
      warnings.push('WARN: The system option requires clock_nanosleep', 'WARN: and is not compatible with posix_timers', 'WARN: Using clock_nanosleep');
      s.posixTimers = false;
    }
    // cyclictest 2.4 pins every thread even without -a (fixed in 2.5).
    if (!s.smp && s.affinity.kind === 'unpinned' && s.version.pinsWithoutAffinity) s.affinity = { kind: 'all' };
    if (this.optionAffinity && s.smp) warnings.push('WARN: -a ignored due to smp mode');
    if (s.smi) {
      if (s.affinity.kind === 'unpinned') fail('FATAL: SMI counter relies on thread affinity');
    }
    if (s.clock < 0 || s.clock > 2) fail(`${spelled('c')}: expected 0 (CLOCK_MONOTONIC) or 1 (CLOCK_REALTIME)`);
    if (s.oscope < 1) fail(`${spelled('o')}: expected a reduction of 1 or more`);
    if (s.oscope > 1 && !s.verbose) {
      warnings.push('WARN: -o option only meaningful, if verbose');
      fail(`${spelled('o')}: needs -v`);
    }
    if (s.histogramUs < 0) fail(`${spelled(s.histogramSum ? 'H' : 'h')}: expected the histogram's size in us, 1 or more`);
    if (s.histogramUs > HIST_MAX) s.histogramUs = HIST_MAX;
    if (s.histogramUs && this.distanceGiven) warnings.push('WARN: distance is ignored and set to 0, if histogram enabled');
    if (s.histogramUs) s.distanceUs = 0;
    if (s.priority < 0 || s.priority > 99) fail(`${spelled('p')}: expected a priority from 0 to 99`);
    if (this.threadsPerCpu) s.threads = s.affinity.kind === 'list' ? s.affinity.cpus.length : this.machine.allowedCpus.length;
    if (s.priospread && s.priority === 0) {
      warnings.push(`defaulting realtime priority to ${s.threads + 1}`);
      s.priority = s.threads + 1;
    }
    if (s.priority && s.policy !== 'fifo' && s.policy !== 'rr') {
      warnings.push('policy and priority don\'t match: setting policy to SCHED_FIFO');
      s.policy = 'fifo';
    }
    if ((s.policy === 'fifo' || s.policy === 'rr') && s.priority === 0) {
      warnings.push(`defaulting realtime priority to ${s.threads + 1}`);
      s.priority = s.threads + 1;
    }
    if (s.threads < 1) fail(`${spelled('t')}: expected 1 or more threads`);
    if (s.aligned && s.secaligned) fail(`${spelled('A')} and ${spelled('secaligned')}: give one of them`);
    return { kind: 'run', settings: s, warnings, notes: this.notes };
  }
}

/** cyclictest's handlepolicy: the first letters decide, anything else is other. */
function policyNamed(name: string): Policy {
  const starts = (prefix: string) => name.slice(0, prefix.length).toLowerCase() === prefix;
  if (starts('other')) return 'other';
  if (starts('batch')) return 'batch';
  if (starts('idle')) return 'idle';
  if (starts('fifo')) return 'fifo';
  if (starts('rr')) return 'rr';
  return 'other';
}
