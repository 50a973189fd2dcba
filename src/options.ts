// The probe's options, checked once: every bad value becomes an OptionError naming the option as
// the CLI spells it (without its dashes), what was given and what is accepted.
import { OptionError } from './errors.js';
import type { ClockName, PolicyName } from './native.js';
import { deadlinePeriodMinNs, usableCpus } from './system.js';
import { formatCpuList, formatDuration, NS_PER_MS, NS_PER_S, NS_PER_US } from './units.js';

export interface ProbeOptions {
  /** Wake-up period in ns (default 1ms). */
  periodNs?: number;
  /** CPUs to measure on; one thread per CPU unless `threads` is also given (then round-robin). */
  cpus?: number[];
  /** Number of threads (default: one per usable CPU). */
  threads?: number;
  /**
   * Once measuring, pin every other thread of this process (the JS thread, libuv's, V8's) to these CPUs,
   * as cyclictest's --mainaffinity: keeps the drain off the measured CPUs. Process-wide and lasting
   * (threads created later inherit it), so meant for a process that exists to measure, like the CLI.
   */
  mainCpus?: number[];
  policy?: PolicyName;
  /** Default 99 for fifo/rr, 0 for other/deadline. */
  priority?: number;
  /** SCHED_DEADLINE runtime per period (default 10% of the period, at least 20us). */
  deadlineRuntimeNs?: number;
  clock?: ClockName;
  /** Added to the period of each further thread, as cyclictest's -d (default 0). */
  distanceNs?: number;
  /** Start every thread on the next full second (cyclictest's --secaligned). */
  aligned?: boolean;
  /** Wake-ups per thread; omit for no limit. */
  loops?: number;
  durationNs?: number;
  lockMemory?: boolean;
  dmaLatency?: boolean;
  allowDegraded?: boolean;
  /** Report every sample above this latency. */
  spikeThresholdNs?: number;
  /** Stop everything at the first sample above this latency, and stop ftrace. */
  breakThresholdNs?: number;
  /** Keep cyclictest's per-microsecond histogram up to this many us. */
  histogramMaxUs?: number;
  /** Length of the intervals handed to onInterval (e.g. for HdrHistogram logs); 0: none. */
  intervalNs?: number;
  /** Samples each thread's ring holds (a power of two, at least 1024); by default 4 s worth at the thread's period. */
  ringCapacity?: number;
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
  /** The CPU the thread is pinned to; null for SCHED_DEADLINE, which the kernel will not pin. */
  cpu: number | null;
  periodNs: number;
  ringCapacity: number;
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
  loops: number | null;
  durationNs: number | null;
  lockMemory: boolean;
  dmaLatency: boolean;
  allowDegraded: boolean;
  spikeThresholdNs: number | null;
  breakThresholdNs: number | null;
  histogramMaxUs: number | null;
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

  if (options.loops !== undefined && options.durationNs !== undefined) {
    throw new OptionError('loops', options.loops, 'either --loops or --duration, not both');
  }
  positiveInteger('loops', options.loops, Number.MAX_SAFE_INTEGER);
  durationWithin('duration', options.durationNs, NS_PER_MS, 365 * 86_400 * NS_PER_S);
  const distanceNs = options.distanceNs ?? 0;
  if (distanceNs !== 0) durationWithin('distance', distanceNs, 1, PERIOD_MAX_NS);
  durationWithin('spike', options.spikeThresholdNs, 0, PERIOD_MAX_NS);
  durationWithin('breaktrace', options.breakThresholdNs, 1, PERIOD_MAX_NS);
  positiveInteger('histogram', options.histogramMaxUs, 10_000_000);
  positiveInteger('threads', options.threads, 4096);
  const ringCapacity = options.ringCapacity;
  if (ringCapacity !== undefined && !(Number.isSafeInteger(ringCapacity) && ringCapacity >= RING_MIN && ringCapacity <= RING_MAX && (ringCapacity & (ringCapacity - 1)) === 0)) {
    throw new OptionError('ringCapacity', ringCapacity, `a power of two from ${RING_MIN} to ${RING_MAX}`);
  }

  const { online, allowed } = usableCpus();
  const cpus = options.cpus ?? allowed;
  checkCpus('cpus', cpus, online, allowed);
  if (options.mainCpus !== undefined) checkCpus('main-cpus', options.mainCpus, online, allowed);
  const threadCount = options.threads ?? cpus.length;

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
      cpu: policy === 'deadline' ? null : cpus[thread % cpus.length]!,
      periodNs: threadPeriodNs,
      ringCapacity: ringCapacity ?? ringCapacityFor(threadPeriodNs),
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
    loops: options.loops ?? null,
    durationNs: options.durationNs ?? null,
    lockMemory: options.lockMemory ?? true,
    dmaLatency: options.dmaLatency ?? true,
    allowDegraded: options.allowDegraded ?? false,
    spikeThresholdNs: options.spikeThresholdNs ?? null,
    breakThresholdNs: options.breakThresholdNs ?? null,
    histogramMaxUs: options.histogramMaxUs ?? null,
    intervalNs: options.intervalNs ?? 0,
    drainIntervalMs: options.drainIntervalMs ?? 100,
    keepProcessAlive: options.keepProcessAlive ?? (options.loops !== undefined || options.durationNs !== undefined),
  };
}
