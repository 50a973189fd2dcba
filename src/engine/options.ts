// The probe's options, checked once: every bad value becomes an OptionError naming the option as
// the CLI spells it (without its dashes), what was given and what is accepted.
import { OptionError } from '../errors.js';
import type { ClockName, PolicyName } from './native.js';
import { deadlinePeriodMinNs, usableCpus } from './system.js';
import { formatCpuList, formatDuration, NS_PER_MS, NS_PER_S, NS_PER_US } from '../units.js';

export interface ProbeOptions {
  /** Wake-up period in ns (default 1ms). */
  periodNs?: number;
  /** CPUs to measure on; one thread per CPU unless `threads` is also given (then round-robin). */
  cpus?: number[];
  /** Number of threads (default: one per usable CPU). */
  threads?: number;
  /**
   * false: leave each thread where the scheduler puts it, within this process's CPUs, as cyclictest does
   * without -a (default true: thread N pinned to the Nth CPU of `cpus`, round-robin).
   */
  pin?: boolean;
  /**
   * Once measuring, pin every other thread of this process (the JS thread, libuv's, V8's) to these CPUs,
   * as cyclictest's --mainaffinity: keeps the drain off the measured CPUs. Process-wide and lasting
   * (threads created later inherit it), so meant for a process that exists to measure, like the CLI.
   */
  mainCpus?: number[];
  policy?: PolicyName;
  /** Default 99 for fifo/rr, 0 for other/deadline. */
  priority?: number;
  /** Each further thread one priority lower than the one before (cyclictest --priospread); fifo/rr only. */
  prioritySpread?: boolean;
  /** SCHED_DEADLINE runtime per period (default 10% of the period, at least 20us). */
  deadlineRuntimeNs?: number;
  clock?: ClockName;
  /** Added to the period of each further thread, as cyclictest's -d (default 0). */
  distanceNs?: number;
  /** Start every thread on the next full second (cyclictest's --secaligned), plus alignOffsetNs. */
  aligned?: boolean;
  alignOffsetNs?: number;
  /** Start every thread at one common time, thread N this much times N after it (cyclictest's -A). */
  staggerNs?: number;
  /** Wake-ups per thread; omit for no limit. */
  loops?: number;
  /** With loops: the run ends for every thread when the first reaches them, as cyclictest's -l (default: each thread its own). */
  loopsEndAll?: boolean;
  /** How long to measure; with `loops` too, whichever ends first. */
  durationNs?: number;
  lockMemory?: boolean;
  dmaLatency?: boolean;
  allowDegraded?: boolean;
  /** Report every sample above this latency. */
  spikeThresholdNs?: number;
  /** Stop everything at the first sample above this latency. */
  breakThresholdNs?: number;
  /** At that break, write a trace mark and stop ftrace, where tracefs is reachable (default true). */
  traceOnBreak?: boolean;
  /** Keep cyclictest's per-microsecond histogram up to this many us. */
  histogramMaxUs?: number;
  /** Length of the intervals handed to onInterval (e.g. for HdrHistogram logs); 0: none. */
  intervalNs?: number;
  /** Samples each thread's ring holds (a power of two, at least 1024); by default 4 s worth at the thread's period. */
  ringCapacity?: number;
  /**
   * Wake-ups per block of the block maxima each thread keeps for extreme-value analysis (rtlat
   * analyze); by default 2 s worth at the thread's period, so 10 minutes give 300 blocks.
   */
  blockSize?: number;
  /** The largest latencies each thread keeps, with their times, for peaks-over-threshold analysis (default 4096). */
  exceedancesKept?: number;
  /** How often samples move from the native rings into histograms (default 100ms). */
  drainIntervalMs?: number;
  /**
   * Keep the process alive while measuring. By default a run with `loops` or `durationNs` does, so that
   * `await probe.finished` sees it end; an endless one (a service's probe) does not.
   */
  keepProcessAlive?: boolean;
}

export interface ThreadPlan {
  thread: number;
  /** The CPU the thread is pinned to; null for SCHED_DEADLINE, which the kernel will not pin, or when not pinning. */
  cpu: number | null;
  /** Its real-time priority: the run's, or lower with prioritySpread. */
  priority: number;
  /** With aligned or staggerNs: its first wake-up this long after the common start. */
  startOffsetNs: number;
  periodNs: number;
  ringCapacity: number;
  blockSize: number;
}

export interface ProbeConfig {
  periodNs: number;
  threads: ThreadPlan[];
  /** Where the process's other threads are pinned once measuring; null: left where they are. */
  mainCpus: number[] | null;
  policy: PolicyName;
  priority: number;
  deadlineRuntimeNs: number;
  clock: ClockName;
  distanceNs: number;
  aligned: boolean;
  /** With aligned: the first wake-ups this long after the full second; null otherwise. */
  alignOffsetNs: number | null;
  /** Started together: thread N's first wake-up N times this after the common start; null otherwise. */
  staggerNs: number | null;
  /** When the threads start: each on its own, together (staggerNs), or on a full second (aligned). */
  alignment: 'none' | 'together' | 'second';
  loops: number | null;
  loopsEndAll: boolean;
  durationNs: number | null;
  lockMemory: boolean;
  dmaLatency: boolean;
  allowDegraded: boolean;
  spikeThresholdNs: number | null;
  breakThresholdNs: number | null;
  traceOnBreak: boolean;
  histogramMaxUs: number | null;
  exceedancesKept: number;
  intervalNs: number;
  drainIntervalMs: number;
  keepProcessAlive: boolean;
}

export const PERIOD_MIN_NS = NS_PER_US;
export const PERIOD_MAX_NS = 10 * NS_PER_S;
/** The ring holds this long of samples at the thread's period, so a slow drain loses nothing. */
export const RING_SECONDS = 4;
const RING_MIN = 1 << 10;
const RING_MAX = 1 << 22;
/** A block of the block maxima is this long at the thread's period. */
const BLOCK_SECONDS = 2;
export const DEFAULT_EXCEEDANCES_KEPT = 4_096;
const POLICIES: readonly PolicyName[] = ['fifo', 'rr', 'other', 'deadline'];
const CLOCKS: readonly ClockName[] = ['monotonic', 'realtime'];

function positiveInteger(option: string, value: number | undefined, max: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 1 || value > max)) {
    throw new OptionError(option, value, `a whole number from 1 to ${max}`);
  }
}

function durationWithin(option: string, value: number | undefined, minNs: number, maxNs: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < minNs || value > maxNs)) {
    throw new OptionError(option, value, `a whole number of ns from ${minNs} (${formatDuration(minNs)}) to ${maxNs} (${formatDuration(maxNs)})`);
  }
}

/** Threads may be pinned only to CPUs that are online and in this process's affinity mask. */
function checkCpus(option: string, cpus: number[], online: number[], allowed: number[]): void {
  if (cpus.length === 0) throw new OptionError(option, '', `CPUs among ${formatCpuList(allowed)}`);
  for (const cpu of cpus) {
    if (!online.includes(cpu)) throw new OptionError(option, formatCpuList(cpus), `online CPUs (${formatCpuList(online)})`);
    if (!allowed.includes(cpu)) throw new OptionError(option, formatCpuList(cpus), `CPUs in this process's affinity mask (${formatCpuList(allowed)})`);
  }
}

export function ringCapacityFor(periodNs: number): number {
  const wanted = Math.ceil((RING_SECONDS * NS_PER_S) / periodNs);
  return Math.min(RING_MAX, Math.max(RING_MIN, 2 ** Math.ceil(Math.log2(wanted))));
}

export function blockSizeFor(periodNs: number): number {
  return Math.max(1, Math.round((BLOCK_SECONDS * NS_PER_S) / periodNs));
}

export function resolveOptions(options: ProbeOptions = {}): ProbeConfig {
  const periodNs = options.periodNs ?? NS_PER_MS;
  durationWithin('period', periodNs, PERIOD_MIN_NS, PERIOD_MAX_NS);
  const policy = options.policy ?? 'fifo';
  if (!POLICIES.includes(policy)) throw new OptionError('policy', policy, POLICIES.join(', '));
  const clock = options.clock ?? 'monotonic';
  if (!CLOCKS.includes(clock)) throw new OptionError('clock', clock, CLOCKS.join(', '));

  const realTime = policy === 'fifo' || policy === 'rr';
  const priority = options.priority ?? (realTime ? 99 : 0);
  if (realTime && (!Number.isInteger(priority) || priority < 1 || priority > 99)) {
    throw new OptionError('priority', priority, `1 to 99 for policy ${policy}`);
  }
  if (!realTime && priority !== 0) throw new OptionError('priority', priority, `0 for policy ${policy} (it has no priority)`);

  positiveInteger('loops', options.loops, Number.MAX_SAFE_INTEGER);
  if (options.loopsEndAll && options.loops === undefined) throw new OptionError('loopsEndAll', true, 'loops with it (the first thread to reach them ends the run)');
  durationWithin('duration', options.durationNs, NS_PER_MS, 365 * 86_400 * NS_PER_S);
  const distanceNs = options.distanceNs ?? 0;
  if (distanceNs !== 0) durationWithin('distance', distanceNs, 1, PERIOD_MAX_NS);
  durationWithin('spike', options.spikeThresholdNs, 0, PERIOD_MAX_NS);
  durationWithin('breaktrace', options.breakThresholdNs, 1, PERIOD_MAX_NS);
  if (options.aligned && options.staggerNs !== undefined) throw new OptionError('stagger', options.staggerNs, 'no stagger with aligned (one or the other start)');
  durationWithin('align-offset', options.alignOffsetNs, 0, NS_PER_S);
  durationWithin('stagger', options.staggerNs, 0, NS_PER_S);
  positiveInteger('histogram', options.histogramMaxUs, 10_000_000);
  positiveInteger('threads', options.threads, 4096);
  positiveInteger('blockSize', options.blockSize, 1_000_000_000);
  positiveInteger('exceedancesKept', options.exceedancesKept, 1_000_000);
  const ringCapacity = options.ringCapacity;
  if (ringCapacity !== undefined && !(Number.isSafeInteger(ringCapacity) && ringCapacity >= RING_MIN && ringCapacity <= RING_MAX && (ringCapacity & (ringCapacity - 1)) === 0)) {
    throw new OptionError('ringCapacity', ringCapacity, `a power of two from ${RING_MIN} to ${RING_MAX}`);
  }

  const { online, allowed } = usableCpus();
  const cpus = options.cpus ?? allowed;
  checkCpus('cpus', cpus, online, allowed);
  if (options.mainCpus !== undefined) checkCpus('main-cpus', options.mainCpus, online, allowed);
  const threadCount = options.threads ?? cpus.length;
  const spread = options.prioritySpread ?? false;
  if (spread && !realTime) throw new OptionError('priority-spread', policy, 'policy fifo or rr (the others have no priority)');
  if (spread && priority - (threadCount - 1) < 1) {
    throw new OptionError('priority-spread', `${threadCount} threads from priority ${priority}`, `a priority of at least ${threadCount}, so that the last thread has 1`);
  }
  const pinned = policy !== 'deadline' && (options.pin ?? true);

  let deadlineRuntimeNs = 0;
  if (policy === 'deadline') {
    const minPeriodNs = deadlinePeriodMinNs();
    if (periodNs < minPeriodNs) {
      throw new OptionError('period', formatDuration(periodNs), `at least ${formatDuration(minPeriodNs)} with policy deadline (kernel.sched_deadline_period_min_us)`);
    }
    // Whole nanoseconds: periodNs / 10 of a period such as 250005ns would fail the check below, which names an option never given.
    deadlineRuntimeNs = options.deadlineRuntimeNs ?? Math.min(periodNs, Math.max(Math.round(periodNs / 10), 20 * NS_PER_US));
    durationWithin('deadline-runtime', deadlineRuntimeNs, 1_024, periodNs);
  }

  const threads: ThreadPlan[] = [];
  for (let thread = 0; thread < threadCount; thread++) {
    const threadPeriodNs = periodNs + thread * distanceNs;
    durationWithin('distance', threadPeriodNs, PERIOD_MIN_NS, PERIOD_MAX_NS);
    threads.push({
      thread,
      cpu: pinned ? cpus[thread % cpus.length]! : null,
      priority: spread ? priority - thread : priority,
      startOffsetNs: options.staggerNs !== undefined ? thread * options.staggerNs : options.aligned ? (options.alignOffsetNs ?? 0) : 0,
      periodNs: threadPeriodNs,
      ringCapacity: ringCapacity ?? ringCapacityFor(threadPeriodNs),
      blockSize: options.blockSize ?? blockSizeFor(threadPeriodNs),
    });
  }

  return {
    periodNs,
    threads,
    mainCpus: options.mainCpus ?? null,
    policy,
    priority,
    deadlineRuntimeNs,
    clock,
    distanceNs,
    aligned: options.aligned ?? false,
    alignOffsetNs: options.aligned ? (options.alignOffsetNs ?? 0) : null,
    staggerNs: options.staggerNs ?? null,
    alignment: options.aligned ? 'second' : options.staggerNs !== undefined ? 'together' : 'none',
    loops: options.loops ?? null,
    loopsEndAll: options.loopsEndAll ?? false,
    durationNs: options.durationNs ?? null,
    lockMemory: options.lockMemory ?? true,
    dmaLatency: options.dmaLatency ?? true,
    allowDegraded: options.allowDegraded ?? false,
    spikeThresholdNs: options.spikeThresholdNs ?? null,
    breakThresholdNs: options.breakThresholdNs ?? null,
    traceOnBreak: options.traceOnBreak ?? true,
    histogramMaxUs: options.histogramMaxUs ?? null,
    exceedancesKept: options.exceedancesKept ?? DEFAULT_EXCEEDANCES_KEPT,
    intervalNs: options.intervalNs ?? 0,
    drainIntervalMs: options.drainIntervalMs ?? 100,
    keepProcessAlive: options.keepProcessAlive ?? (options.loops !== undefined || options.durationNs !== undefined),
  };
}
