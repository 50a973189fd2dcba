// The options several commands share, defined and parsed once: measure's (which sweep, guest, matrix
// and serve take a subset of), a guest's set-up (guest and matrix), and the rules between flags.
// Each value is checked where it is parsed (units.ts's parsers, the probe's resolveOptions); each rule
// between flags ("--load-cpus needs --load") by needs() below.
import { Command, Option } from 'commander';
import { OptionError } from '../errors.js';
import { parseLoadSpec, type LoadSpec } from '../load/index.js';
import { DEFAULT_EXPLAIN_MAX, type ExplainOptions } from '../measurement/explain/collector.js';
import type { ProbeOptions } from '../measurement/measure.js';
import { parseFailAbove, type VerdictRules } from '../measurement/verdict.js';
import { parseCyclictestVersion, type CyclictestVersion } from '../cyclictest/index.js';
import { checkOutputPath } from '../outputs/output-path.js';
import { DEFAULT_BOOT_TIMEOUT_MS, DEFAULT_MEMORY_MIB, findQemu, parseExtraFile, type GuestOptions } from '../targets/index.js';
import { DURATION_RULE, LATENCY_RULE, NS_PER_MS, NS_PER_S, parseCpuList, parseDurationNs, parseInteger, PERIOD_RULE } from '../units.js';
import { UsageError } from './exit.js';

/** A flag that means nothing without another: "--load-cpus needs --load". */
export function needs(option: string, given: boolean, needed: string, neededGiven: boolean): void {
  if (given && !neededGiven) throw new UsageError(`--${option} needs --${needed}`);
}

/** Two flags that exclude each other: "--loops and --duration were both given (10, 1s); give one of them". */
export function excludes(option: string, given: string | undefined, other: string, otherGiven: string | undefined): void {
  if (given !== undefined && otherGiven !== undefined) throw new UsageError(`--${option} and --${other} were both given (${given}, ${otherGiven}); give one of them`);
}

/** Repeatable options (--label a --label b) collect their values in order. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export interface MeasureFlags {
  period: string;
  duration?: string;
  loops?: string;
  threads?: string;
  cpus?: string;
  mainCpus?: string;
  priority?: string;
  policy: string;
  deadlineRuntime?: string;
  clock: string;
  distance?: string;
  aligned?: boolean;
  mlock: boolean;
  dmaLatency: boolean;
  allowDegraded?: boolean;
  format: string;
  histogram?: string;
  json?: string;
  hdrLog?: string;
  hdrInterval: string;
  report?: string;
  spike?: string;
  breaktrace?: string;
  quiet?: boolean;
  load?: string;
  loadCpus?: string;
  failAbove?: string;
  failOnDropped?: boolean;
  failOnDegraded?: boolean;
  explain?: string | true;
  explainMax?: string;
}

export interface MeasureOutputs {
  format: 'table' | 'cyclictest';
  /** The dialect of the cyclictest formats: RTLAT_CYCLICTEST_VERSION, else the newest. */
  cyclictestVersion: CyclictestVersion;
  histogram: boolean;
  jsonPath: string | null;
  hdrLogPath: string | null;
  reportPath: string | null;
  quiet: boolean;
}

/** The options of `rtlat measure`, new each time (a Command takes ownership of the Options it is given). */
export function measureOptions(): Option[] {
  return [
    new Option('-i, --period <time>', 'wake-up period: ns, us, ms or s (a bare number is us, as cyclictest -i)').default('1ms'),
    new Option('-D, --duration <time>', 'how long to measure: s, m, h or d (a bare number is s)'),
    new Option('-l, --loops <n>', 'wake-ups per thread'),
    new Option('-t, --threads <n>', 'number of measuring threads (default: one per CPU in --cpus)'),
    new Option('-a, --cpus <list>', 'CPUs to pin threads to, e.g. 0-3,6 (default: every CPU this process may use)'),
    new Option('--main-cpus <list>', 'pin rtlat\'s other threads (JS, libuv, V8) to these CPUs, as cyclictest --mainaffinity (default: left as started)'),
    new Option('-p, --priority <prio>', 'real-time priority (default 99 for fifo/rr; 0 for other/deadline)'),
    new Option('--policy <policy>', 'scheduling policy').choices(['fifo', 'rr', 'other', 'deadline']).default('fifo'),
    new Option('--deadline-runtime <time>', 'SCHED_DEADLINE runtime per period (default 10% of it, at least 20us)'),
    new Option('-c, --clock <clock>', 'clock to sleep on').choices(['monotonic', 'realtime']).default('monotonic'),
    new Option('-d, --distance <time>', 'add this to the period of each further thread, as cyclictest -d (default 0)'),
    new Option('--aligned', 'start every thread on the next full second (cyclictest --secaligned)'),
    new Option('--no-mlock', 'do not lock the measuring threads\' memory'),
    new Option('--no-dma-latency', 'do not hold /dev/cpu_dma_latency at 0'),
    new Option('--allow-degraded', 'measure even when the RT policy, memory locking or the DMA-latency request is refused'),
    new Option('--format <format>', 'summary on stdout').choices(['table', 'cyclictest']).default('table'),
    new Option('--histogram <maxus>', 'print cyclictest\'s -h histogram up to this many us'),
    new Option('--json <file>', 'write the run as JSON (docs/run-schema.md)'),
    new Option('--hdr-log <file>', 'write an HdrHistogram interval log (one tag per CPU, and untagged all CPUs together)'),
    new Option('--hdr-interval <time>', 'interval of the HdrHistogram log').default('1s'),
    new Option('--report <file>', 'write an HTML report of the run (as rtlat report)'),
    new Option('--spike <us>', 'list every sample above this many us (stderr and JSON)'),
    new Option('-b, --breaktrace <us>', 'stop at the first sample above this many us and stop ftrace; exit code 4'),
    new Option('-q, --quiet', 'no live status line'),
    new Option('--load <kinds>', 'run load generators while measuring: syscalls, ipc, timers, io, memory, stress-ng:ARGS (comma-separated)'),
    new Option('--load-cpus <list>', 'CPUs for the load generators (default: the measured CPUs)'),
    new Option('--fail-above <bounds>', 'exit 5 (after writing every output) when a bound is exceeded on a thread or over all: max=100us,p99.99=40us,p99=30us'),
    new Option('--fail-on-dropped', 'exit 5 when samples were dropped'),
    new Option('--fail-on-degraded', 'exit 5 when the set-up was degraded (with --allow-degraded)'),
    new Option('--explain [us]', 'trace the measured CPUs and say why each wake-up above this many us (default: above the run\'s p99.9) was late'),
    new Option('--explain-max <n>', `explain at most this many wake-ups a thread, the largest (default ${DEFAULT_EXPLAIN_MAX})`),
  ];
}

/** The verdict judges a run of `rtlat measure`; the commands sharing its options do not take it. */
const VERDICT_OPTIONS: readonly string[] = ['failAbove', 'failOnDropped', 'failOnDegraded'];

/** Adds the options of `rtlat measure` whose attribute names `keep` accepts, for commands that measure too. */
export function addMeasureOptions(command: Command, keep: (attributeName: string) => boolean): Command {
  for (const option of measureOptions()) {
    if (!VERDICT_OPTIONS.includes(option.attributeName()) && keep(option.attributeName())) command.addOption(option);
  }
  return command;
}

function usToNs(option: string, text: string): number {
  return parseDurationNs(option, text, LATENCY_RULE);
}

/** measure's flags as the probe's options, the outputs asked for and the load; every value checked that can be without the machine. */
export function parseMeasureFlags(flags: MeasureFlags): {
  probe: ProbeOptions;
  outputs: MeasureOutputs;
  /** cpus null: the measured CPUs. */
  load: { spec: LoadSpec; cpus: number[] | null } | null;
  verdict: VerdictRules;
  explain: ExplainOptions | null;
} {
  excludes('loops', flags.loops, 'duration', flags.duration);
  needs('load-cpus', flags.loadCpus !== undefined, 'load', flags.load !== undefined);
  const load =
    flags.load === undefined ? null : { spec: parseLoadSpec(flags.load), cpus: flags.loadCpus === undefined ? null : parseCpuList('load-cpus', flags.loadCpus) };
  const probe: ProbeOptions = {
    periodNs: parseDurationNs('period', flags.period, PERIOD_RULE),
    policy: flags.policy as ProbeOptions['policy'],
    clock: flags.clock as ProbeOptions['clock'],
    lockMemory: flags.mlock,
    dmaLatency: flags.dmaLatency,
    allowDegraded: flags.allowDegraded ?? false,
    aligned: flags.aligned ?? false,
    keepProcessAlive: true,
  };
  if (flags.duration !== undefined) probe.durationNs = parseDurationNs('duration', flags.duration, DURATION_RULE);
  if (flags.loops !== undefined) probe.loops = parseInteger('loops', flags.loops, 1, Number.MAX_SAFE_INTEGER);
  if (flags.threads !== undefined) probe.threads = parseInteger('threads', flags.threads, 1, 4096);
  if (flags.cpus !== undefined) probe.cpus = parseCpuList('cpus', flags.cpus);
  if (flags.mainCpus !== undefined) probe.mainCpus = parseCpuList('main-cpus', flags.mainCpus);
  if (flags.priority !== undefined) probe.priority = parseInteger('priority', flags.priority, -1000, 1000);
  if (flags.deadlineRuntime !== undefined) probe.deadlineRuntimeNs = parseDurationNs('deadline-runtime', flags.deadlineRuntime, PERIOD_RULE);
  if (flags.distance !== undefined) probe.distanceNs = parseDurationNs('distance', flags.distance, { ...PERIOD_RULE, allowZero: true });
  if (flags.spike !== undefined) probe.spikeThresholdNs = usToNs('spike', flags.spike);
  if (flags.breaktrace !== undefined) {
    probe.breakThresholdNs = usToNs('breaktrace', flags.breaktrace);
    if (probe.breakThresholdNs === 0) throw new OptionError('breaktrace', flags.breaktrace, 'a latency above 0, e.g. 100 (us)');
  }
  if (flags.histogram !== undefined) probe.histogramMaxUs = parseInteger('histogram', flags.histogram, 1, 1_000_000);
  const hdrIntervalNs = parseDurationNs('hdr-interval', flags.hdrInterval, { units: ['ms', 's', 'm'], bareUnit: 's', minNs: 10 * NS_PER_MS, maxNs: 3_600 * NS_PER_S });
  const outputs: MeasureOutputs = {
    format: flags.format as MeasureOutputs['format'],
    cyclictestVersion: cyclictestVersionFromEnvironment(),
    histogram: flags.histogram !== undefined,
    jsonPath: flags.json === undefined ? null : checkOutputPath('json', flags.json),
    hdrLogPath: flags.hdrLog === undefined ? null : checkOutputPath('hdr-log', flags.hdrLog),
    reportPath: flags.report === undefined ? null : checkOutputPath('report', flags.report),
    quiet: flags.quiet ?? false,
  };
  if (outputs.hdrLogPath) probe.intervalNs = hdrIntervalNs;
  const verdict: VerdictRules = {
    bounds: flags.failAbove === undefined ? [] : parseFailAbove(flags.failAbove),
    failOnDropped: flags.failOnDropped ?? false,
    failOnDegraded: flags.failOnDegraded ?? false,
  };
  return { probe, outputs, load, verdict, explain: parseExplainFlags(flags) };
}

function parseExplainFlags(flags: MeasureFlags): ExplainOptions | null {
  needs('explain-max', flags.explainMax !== undefined, 'explain', flags.explain !== undefined);
  if (flags.explain === undefined) return null;
  // The kernel's trace clock is CLOCK_MONOTONIC: wake-ups on another clock cannot be found in it.
  if (flags.clock === 'realtime') throw new UsageError('--explain needs --clock monotonic (the kernel traces on CLOCK_MONOTONIC); drop --clock realtime');
  return {
    thresholdNs: flags.explain === true ? null : usToNs('explain', flags.explain),
    maxPerThread: flags.explainMax === undefined ? DEFAULT_EXPLAIN_MAX : parseInteger('explain-max', flags.explainMax, 1, 1_000_000),
  };
}

function cyclictestVersionFromEnvironment(): CyclictestVersion {
  try {
    return parseCyclictestVersion(process.env.RTLAT_CYCLICTEST_VERSION);
  } catch (error) {
    throw new UsageError(`RTLAT_CYCLICTEST_VERSION: ${(error as Error).message}`);
  }
}

/** measure's options that stay on the host: the outputs (the guest's come back) and the load. */
export const HOST_OUTPUTS_AND_LOAD: readonly string[] = ['json', 'hdrLog', 'report', 'load', 'loadCpus'];
/** `rtlat guest`'s --cpus is the number of vCPUs (rtlat measures on each); --main-cpus goes in and names guest CPUs. */
export const GUEST_HOST_SIDE: readonly string[] = [...HOST_OUTPUTS_AND_LOAD, 'cpus'];
/** `rtlat matrix`'s --cpus and --main-cpus name the host's CPUs: they mean nothing in its guests. */
export const NOT_TO_MATRIX_GUESTS: readonly string[] = [...GUEST_HOST_SIDE, 'mainCpus'];

/** The measure options given on the command line (but those in `except`), as arguments for `rtlat measure`. */
export function measureArgsOf(command: Command, except: readonly string[]): string[] {
  const args: string[] = [];
  for (const option of measureOptions()) {
    const name = option.attributeName();
    if (except.includes(name) || command.getOptionValueSource(name) !== 'cli') continue;
    const value: unknown = command.getOptionValue(name);
    // A flag (--aligned), its negation (--no-mlock), or an optional value not given (--explain) takes no value.
    if (option.isBoolean() || option.negate || (option.optional && value === true)) args.push(option.long!);
    else args.push(option.long!, String(value));
  }
  return args;
}

/** The measure flags of `command` (but those in `except`): for commands that take measure's options and measure elsewhere too. */
export function measureFlagsOf(command: Command, except: readonly string[]): MeasureFlags {
  const flags = Object.fromEntries(measureOptions().map((option) => [option.attributeName(), command.getOptionValue(option.attributeName())]));
  for (const name of except) delete flags[name];
  return flags as unknown as MeasureFlags;
}

/** Checks the measure options on this side, so that a mistake is a usage error before anything starts. */
export function checkMeasureOptions(command: Command, except: readonly string[]): void {
  parseMeasureFlags(measureFlagsOf(command, except));
}

export interface GuestFlags {
  hypervisor: 'qemu' | 'xen';
  kernelModules?: string;
  accel: 'auto' | 'kvm' | 'tcg';
  memory: string;
  pinVcpus?: string;
  qemuPriority?: string;
  initrdExtra: string[];
  kernelArgs?: string;
  qemu?: string;
  bootTimeout: string;
  load?: string;
  loadCpus?: string;
  explainHost?: boolean;
}

/** The options of a guest's set-up, shared by `rtlat guest` and `rtlat matrix`. */
export function addGuestOptions(command: Command): Command {
  return command
    .addOption(new Option('--hypervisor <kind>', 'qemu (KVM or TCG, from this host) or xen (a domU, from Dom0)').choices(['qemu', 'xen']).default('qemu'))
    .option('--memory <size>', 'guest memory: MiB, or with M or G', `${DEFAULT_MEMORY_MIB}M`)
    .option('--pin-vcpus <list>', 'host (Xen: physical) CPUs to pin the vCPUs to, vCPU i on the i-th (round-robin), e.g. 2-3')
    .option('--qemu-priority <prio>', 'run every vCPU thread (Xen HVM: every thread of the device model) at SCHED_FIFO with this priority (1-99) while the guest measures')
    .option('--kernel-modules <dir>', 'xen HVM: the guest kernel\'s modules folder, for its xen-blkfront (default /lib/modules/RELEASE)')
    .addOption(new Option('--accel <accel>', 'KVM, TCG, or KVM when a short probe boot comes up with it').choices(['auto', 'kvm', 'tcg']).default('auto'))
    .option('--initrd-extra <host[:guest]>', 'add a file or folder of the host to the guest (repeatable)', collect, [])
    .option('--kernel-args <text>', 'more of the guest kernel\'s command line, e.g. "isolcpus=1 nohz_full=1"')
    .option('--qemu <path>', 'the QEMU binary (default: qemu-system-x86_64 on PATH)')
    .option('--boot-timeout <time>', 'give up when the guest has not come up in this time', `${DEFAULT_BOOT_TIMEOUT_MS / 1000}s`)
    .option('--load <kinds>', 'run load generators on the host (Xen: in Dom0) while the guest measures (see rtlat measure --load)')
    .option('--load-cpus <list>', 'host CPUs for the load (Xen: physical CPUs Dom0\'s vCPUs are pinned to for it); default: those of --pin-vcpus, else every CPU')
    .option('--explain-host', 'with --explain (implied), also trace the host: who kept each explained wake-up\'s vCPU thread off its CPU');
}

/** --explain-host implies --explain: the measure arguments that add it when it was not given. */
export function explainImpliedArgs(command: Command): string[] {
  return command.getOptionValue('explainHost') === true && command.getOptionValue('explain') === undefined ? ['--explain'] : [];
}

const MEMORY = /^(\d+)([mg]?)$/i;

export function parseMemoryMiB(text: string): number {
  const match = MEMORY.exec(text.trim());
  const mib = match ? Number(match[1]) * (match[2]!.toLowerCase() === 'g' ? 1024 : 1) : NaN;
  if (!Number.isSafeInteger(mib) || mib < 128 || mib > 1024 * 1024) throw new OptionError('memory', text, 'a size from 128M to 1024G, e.g. 1024, 512M or 2G');
  return mib;
}

/** The guest set-up of `flags`, checked. */
export function parseGuestFlags(flags: GuestFlags, command: Command): Omit<GuestOptions, 'kernel' | 'measureArgs' | 'commandLine'> {
  needs('load-cpus', flags.loadCpus !== undefined, 'load', flags.load !== undefined);
  if (flags.load !== undefined) parseLoadSpec(flags.load);
  const given = (name: string) => command.getOptionValueSource(name) === 'cli';
  if (flags.hypervisor === 'xen') {
    for (const [name, option] of [['accel', '--accel'], ['qemu', '--qemu']] as const) {
      if (given(name)) throw new UsageError(`${option} is for QEMU's guests; a Xen guest runs on Xen (--hypervisor xen)`);
    }
    if (flags.explainHost) {
      throw new UsageError('--explain-host traces the host\'s vCPU threads, and a Xen domU has none: Xen schedules its vCPUs, not Dom0\'s kernel (--explain alone explains inside the domU)');
    }
  } else if (flags.kernelModules !== undefined) {
    throw new UsageError('--kernel-modules is for Xen HVM guests (--hypervisor xen --xen-type hvm)');
  }
  return {
    accelerator: flags.accel,
    memoryMiB: parseMemoryMiB(flags.memory),
    pinVcpus: flags.pinVcpus === undefined ? null : parseCpuList('pin-vcpus', flags.pinVcpus),
    qemuPriority: flags.qemuPriority === undefined ? null : parseInteger('qemu-priority', flags.qemuPriority, 1, 99),
    extras: flags.initrdExtra.map(parseExtraFile),
    kernelArgs: flags.kernelArgs === undefined ? [] : flags.kernelArgs.split(/\s+/).filter(Boolean),
    ...(flags.qemu !== undefined && { qemu: findQemu(flags.qemu) }),
    bootTimeoutMs: parseDurationNs('boot-timeout', flags.bootTimeout, DURATION_RULE) / NS_PER_MS,
    load: flags.load === undefined ? null : { spec: flags.load, cpus: flags.loadCpus === undefined ? null : parseCpuList('load-cpus', flags.loadCpus) },
    explainHost: flags.explainHost === true,
  };
}
