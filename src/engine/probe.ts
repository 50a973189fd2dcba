// The probe: starts the native measuring threads, drains their rings into histograms on a JS
// timer, and stops them. Data flows one way: native ring -> drain -> ThreadRecorder -> results.
// A service's probe leaves the recording to the addon instead (recordNatively): native ring ->
// the session's histogram thread -> takeIntervals().
import { constants } from 'node:os';
import { PrivilegeError } from '../errors.js';
import type { Breaktrace, MicrosecondHistogram, PercentileValue, Spike, StopReason, ThreadExtremes } from '../run-file/schema.js';
import { combineLatencies } from '../run-file/summary.js';
import { encodeHistogram, fromUncompressedEncoding, meanOf, newHistogram, percentilesOf, type Histogram } from './histogram.js';
import { loadAddon, type NativeAppliedScheduling, type NativeSession, type NativeStartResult, type NativeThreadStats } from './native.js';
import { resolveOptions, type ProbeConfig, type ProbeOptions } from './options.js';
import { deadlineAdmissionError, deadlineAdmissionRefused, describeRefusals, privilegeMessage } from './privileges.js';
import { ThreadRecorder, type CompletedInterval } from './recorder.js';
import { threadIds } from './system.js';
import { formatCpuList, NS_PER_MS } from '../units.js';

export interface LatencySummary {
  count: number;
  minNs: number;
  avgNs: number;
  maxNs: number;
  percentiles: PercentileValue[];
}

export interface ThreadResult extends LatencySummary {
  thread: number;
  /** The CPU requested; null when not pinned (SCHED_DEADLINE). */
  cpu: number | null;
  tid: number;
  periodNs: number;
  /** What the kernel reported after set-up, read back rather than assumed. */
  applied: NativeAppliedScheduling;
  memoryLocked: boolean;
  /** Page faults of the measuring thread while it measured: zero when its memory was locked. */
  pageFaults: number;
  /** Wake-ups skipped because their time had already passed (cyclictest skips them too, without counting them). */
  overruns: number;
  /** Samples lost because the ring was full; count/min/avg/max still include them. */
  dropped: number;
  lastNs: number;
  /** Sum of the latencies each truncated to whole us, as cyclictest sums them. */
  sumUs: number;
  /** Samples in the histogram (count - dropped). */
  histogramCount: number;
  /** The view corrected for coordinated omission: a stall counts as the wake-ups it cost. */
  corrected: { count: number; maxNs: number; percentiles: PercentileValue[] };
  /** HdrHistogram V2 compressed, base64 (the raw view). */
  histogram: string;
  correctedHistogram: string;
  microsecondHistogram: MicrosecondHistogram | null;
  /** Block maxima and the largest latencies with their times, for extreme-value analysis. */
  extremes: ThreadExtremes;
}

export interface ProbeResult {
  config: ProbeConfig;
  startedAt: Date;
  endedAt: Date;
  stoppedBy: StopReason;
  /** Set-up steps the kernel refused in a run that was allowed to degrade. */
  degraded: string[];
  dmaLatencyHeld: boolean;
  codeLockedBytes: number;
  threads: ThreadResult[];
  /** All threads together. */
  all: LatencySummary & { overruns: number; dropped: number; histogram: string };
  breaktrace: Breaktrace | null;
}

/** One thread's samples since the previous take, handed over, with its live counters. */
export interface TakenInterval {
  histogram: Histogram;
  overruns: number;
  dropped: number;
}

export interface ProbeHooks {
  onSpike?: (spike: Spike) => void;
  onInterval?: (interval: CompletedInterval) => void;
  /**
   * Every sample, as drained: `count` (latencyNs, dueNs, cycle) triples of thread `thread` in `samples`,
   * which is reused after the call returns (cyclictest -v prints them all).
   */
  onSamples?: (thread: number, samples: Float64Array, count: number) => void;
}

const DRAIN_CHUNK = 1 << 16;
/** Block maxima moved per call: the native block ring's size. */
const BLOCK_CHUNK = 4_096;
const STOP_POLL_MS = 2;

// Running probes are held here so that GC never collects one mid-run (its native destructor would
// stop it silently). A stopped probe leaves the set and can be collected with all it owns.
const runningProbes = new Set<Probe>();

/** Test-only: thread 0 of a probe sleeps `stallNs` once after `afterCycles` wake-ups, to make overruns on purpose. */
export interface TestStall {
  afterCycles: number;
  stallNs: number;
}

// Kept out of ProbeOptions (and out of the package's exports): only the tests reach it, by importing
// stallOnceForTest from this module.
const testStalls = new WeakMap<Probe, TestStall>();

/** Test-only: makes `probe` (not yet started) stall as `stall` says. */
export function stallOnceForTest(probe: Probe, stall: TestStall): Probe {
  testStalls.set(probe, stall);
  return probe;
}

// Probes whose session records their samples natively (ServiceProbe): not an option of the
// package's, as such a probe's result is only its counters.
const recordedNatively = new WeakSet<Probe>();

/**
 * Makes `probe` (not yet started) leave the recording to its native session: a thread of the addon's
 * own moves each ring's samples into one histogram per measuring thread every drainIntervalMs, and
 * takeIntervals() takes those histograms, at a cost bounded by their size. No JS runs per sample or on
 * a timer, so there are no run views, spikes, intervals, -h histogram or extremes: the result's
 * histograms are empty and only its counters (count, min, max, overruns, dropped, ...) say something.
 * Such a probe runs until stop(): it takes no loops, duration or breaktrace, which a timer would watch.
 */
export function recordNatively(probe: Probe): Probe {
  const { loops, durationNs, breakThresholdNs } = probe.config;
  if (loops !== null || durationNs !== null || breakThresholdNs !== null) {
    throw new Error('rtlat: a probe that records natively runs until stopped (no loops, duration or breaktrace)');
  }
  recordedNatively.add(probe);
  return probe;
}

export function summarize(histogram: Histogram, exact?: { count: number; minNs: number; maxNs: number; sumNs: number }): LatencySummary {
  const count = exact?.count ?? histogram.totalCount;
  return {
    count,
    minNs: exact ? exact.minNs : count ? histogram.minNonZeroValue : 0,
    avgNs: exact ? (count ? exact.sumNs / count : 0) : meanOf(histogram),
    maxNs: exact ? exact.maxNs : histogram.maxValue,
    percentiles: percentilesOf(histogram),
  };
}

/**
 * Pins every thread of the process but the measuring ones to `cpus` (cyclictest's --mainaffinity).
 * After the measuring threads exist: before, they would inherit the mask, which an unpinned deadline
 * thread must not.
 */
export function pinOtherThreads(cpus: readonly number[], measuringTids: readonly number[]): void {
  const { pinThread } = loadAddon();
  for (const tid of threadIds()) {
    if (measuringTids.includes(tid)) continue;
    const error = pinThread(tid, [...cpus]);
    // ESRCH: the thread ended since the listing.
    if (error !== 0 && error !== constants.errno.ESRCH) {
      throw new Error(`rtlat: could not pin thread ${tid} to CPUs ${formatCpuList(cpus)} for --main-cpus (errno ${error})`);
    }
  }
}

export class Probe {
  readonly config: ProbeConfig;
  private readonly hooks: ProbeHooks;
  private native: NativeSession | null = null;
  private startInfo: NativeStartResult | null = null;
  /** One per thread, fed by the JS drain; none when the session records natively. */
  private recorders: ThreadRecorder[] = [];
  /** Recording natively: what the session recorded after the last take before it closed, until taken. */
  private leftOver: Histogram[] | null = null;
  private readonly drainBuffer = new Float64Array(3 * DRAIN_CHUNK);
  private readonly blockBuffer = new Float64Array(2 * BLOCK_CHUNK);
  private drainTimer: NodeJS.Timeout | null = null;
  private startTime = new Date(0);
  private degradedSteps: string[] = [];
  private result: Promise<ProbeResult> | null = null;
  private resolveFinished!: () => void;
  /** Resolves when the threads have ended, by reaching their loops or duration or by stop(). */
  readonly finished: Promise<void> = new Promise((resolve) => (this.resolveFinished = resolve));

  constructor(options: ProbeOptions = {}, hooks: ProbeHooks = {}) {
    this.config = resolveOptions(options);
    this.hooks = hooks;
  }

  get running(): boolean {
    return this.native !== null && this.result === null;
  }

  /**
   * Sets up and starts every measuring thread. Throws PrivilegeError when a step is refused and
   * degraded runs are not allowed, and OptionError when SCHED_DEADLINE's admission control refuses the
   * reservation; a refused start has released everything (threads, locked memory) before it throws.
   */
  start(): this {
    if (this.native) throw new Error('rtlat: this probe was already started');
    const { NativeSession } = loadAddon();
    const config = this.config;
    const stall = testStalls.get(this);
    const natively = recordedNatively.has(this);
    if (natively && (this.hooks.onSpike || this.hooks.onInterval || this.hooks.onSamples)) {
      throw new Error('rtlat: a probe that records natively has no per-sample hooks');
    }
    const native = new NativeSession({
      threads: config.threads.map((plan) => ({
        cpu: plan.cpu ?? -1,
        policy: config.policy,
        priority: plan.priority,
        periodNs: plan.periodNs,
        runtimeNs: config.deadlineRuntimeNs,
        deadlineNs: plan.periodNs,
        ringCapacity: plan.ringCapacity,
        // Natively recorded, nothing would take the block maxima.
        blockSize: natively ? 0 : plan.blockSize,
        testStallAfterCycles: plan.thread === 0 && stall ? stall.afterCycles : 0,
        testStallNs: plan.thread === 0 && stall ? stall.stallNs : 0,
        startOffsetNs: plan.startOffsetNs,
      })),
      clock: config.clock,
      loops: config.loops ?? 0,
      loopsEndAll: config.loopsEndAll,
      durationNs: config.durationNs ?? 0,
      alignment: config.alignment,
      lockMemory: config.lockMemory,
      requestDmaLatency: config.dmaLatency,
      allowDegraded: config.allowDegraded,
      breakThresholdNs: config.breakThresholdNs ?? 0,
      traceOnBreak: config.traceOnBreak,
      recordIntervalNs: natively ? config.drainIntervalMs * NS_PER_MS : 0,
    });
    let startInfo: NativeStartResult;
    let refusals: string[];
    try {
      startInfo = native.start();
      refusals = describeRefusals(startInfo, {
        policy: config.policy,
        priority: config.priority,
        cpus: config.threads.map((plan) => plan.cpu),
      });
      if (startInfo.launchErrno) throw new Error(`rtlat: could not create a measuring thread (errno ${startInfo.launchErrno})`);
      if (!startInfo.started && deadlineAdmissionRefused(startInfo, config)) throw deadlineAdmissionError(config);
      if (!startInfo.started) throw new PrivilegeError(privilegeMessage(refusals), refusals);
      if (config.mainCpus) pinOtherThreads(config.mainCpus, startInfo.threads.map((thread) => thread.tid));
    } catch (error) {
      // At once, not at garbage collection: a refused start leaves nothing locked or running.
      native.close();
      throw error;
    }
    this.native = native;
    this.startInfo = startInfo;
    this.degradedSteps = refusals;
    this.startTime = new Date();
    runningProbes.add(this);
    if (natively) return this;
    this.recorders = config.threads.map(
      (plan) =>
        new ThreadRecorder({
          thread: plan.thread,
          cpu: plan.cpu,
          periodNs: plan.periodNs,
          blockSize: plan.blockSize,
          exceedancesKept: config.exceedancesKept,
          ...(config.spikeThresholdNs !== null && { spikeThresholdNs: config.spikeThresholdNs }),
          ...(config.histogramMaxUs !== null && { histogramMaxUs: config.histogramMaxUs }),
          intervalNs: config.intervalNs,
          ...(this.hooks.onSpike && { onSpike: this.hooks.onSpike }),
          ...(this.hooks.onInterval && { onInterval: this.hooks.onInterval }),
        }),
    );
    this.drainTimer = setInterval(() => this.tick(), config.drainIntervalMs);
    if (!config.keepProcessAlive) this.drainTimer.unref();
    return this;
  }

  /** When measuring began: the time zero of sample and interval times. */
  get startedAt(): Date {
    return this.startTime;
  }

  /** Set-up steps the kernel refused in a run allowed to degrade (empty otherwise). */
  get degraded(): readonly string[] {
    return this.degradedSteps;
  }

  /** The applied set-up of each thread, as read back from the kernel. */
  get setup(): NativeStartResult {
    if (!this.startInfo) throw new Error('rtlat: the probe has not been started');
    return this.startInfo;
  }

  /** The exact native counters right now, without draining (for status lines). */
  liveStats(): NativeThreadStats[] {
    return this.native && !this.result ? this.native.stats() : [];
  }

  /**
   * For a probe that records natively (recordNatively): per thread, the samples the session recorded
   * since the previous take, with the live counters; recording goes on into the next take. Once
   * stopping, the rest is handed over when the probe has stopped.
   */
  takeIntervals(): TakenInterval[] {
    if (!recordedNatively.has(this)) throw new Error('rtlat: takeIntervals() is for a probe that records natively (recordNatively)');
    const histograms = this.native && !this.result ? this.takeHistograms() : (this.leftOver ?? []);
    this.leftOver = null;
    const stats = this.liveStats();
    return this.config.threads.map((_plan, index) => ({
      histogram: histograms[index] ?? newHistogram('interval'),
      overruns: stats[index]?.overruns ?? 0,
      dropped: stats[index]?.dropped ?? 0,
    }));
  }

  private takeHistograms(): Histogram[] {
    return this.config.threads.map((_plan, index) => fromUncompressedEncoding(this.native!.takeHistogram(index)));
  }

  /** Stops measuring (within milliseconds, at any period), drains what is left and returns the results. Idempotent. */
  stop(): Promise<ProbeResult> {
    if (!this.native) return Promise.reject(new Error('rtlat: the probe has not been started'));
    this.result ??= this.finish();
    return this.result;
  }

  private tick(): void {
    this.drain();
    // After a breaktrace, or the first thread's loops with loopsEndAll, the other threads would
    // otherwise sleep on until their next wake-up.
    if (this.native!.finished() || this.native!.breakInfo() || this.loopsEndedAll()) void this.stop();
  }

  /** With loopsEndAll: a thread has reached the loops, which ends the run for every thread. */
  private loopsEndedAll(): boolean {
    const { loops, loopsEndAll } = this.config;
    return loopsEndAll && loops !== null && this.native!.stats().some((thread) => thread.count >= loops);
  }

  private drain(): void {
    const native = this.native!;
    this.recorders.forEach((recorder, index) => {
      let moved: number;
      do {
        moved = native.drain(index, this.drainBuffer);
        recorder.record(this.drainBuffer, moved);
        if (moved > 0) this.hooks.onSamples?.(index, this.drainBuffer, moved);
      } while (moved === DRAIN_CHUNK);
      do {
        moved = native.drainBlocks(index, this.blockBuffer);
        recorder.recordBlocks(this.blockBuffer, moved);
      } while (moved === BLOCK_CHUNK);
    });
  }

  private async finish(): Promise<ProbeResult> {
    const native = this.native!;
    const finishedOnItsOwn = native.finished() || this.loopsEndedAll();
    // Each request wakes the threads that are still asleep: the first may reach a thread just before
    // it goes to sleep. Waiting here rather than in join() keeps the event loop free meanwhile.
    native.requestStop();
    while (!native.finished()) {
      await new Promise((resolve) => setTimeout(resolve, STOP_POLL_MS));
      native.requestStop();
    }
    native.join();
    if (this.drainTimer) clearInterval(this.drainTimer);
    // The session's histogram thread made its last pass in join(): its histograms hold every sample.
    if (recordedNatively.has(this)) this.leftOver = this.takeHistograms();
    else this.drain();
    const endedAt = new Date();
    const views = this.recorders.map((recorder) => recorder.finish());
    const stats = native.stats();
    const broken = native.breakInfo();
    native.close();
    runningProbes.delete(this);
    this.resolveFinished();
    return {
      config: this.config,
      startedAt: this.startTime,
      endedAt,
      stoppedBy: broken ? 'breaktrace' : finishedOnItsOwn ? 'completed' : 'stopped',
      degraded: this.degradedSteps,
      dmaLatencyHeld: this.startInfo!.dmaLatency.held,
      codeLockedBytes: this.startInfo!.codeLock.bytes,
      threads: this.config.threads.map((_plan, index) => this.threadResult(index, stats[index]!, this.recorders[index], views[index])),
      all: this.allThreads(views.map((view) => view.raw), stats),
      breaktrace: broken && {
        thread: broken.thread,
        cpu: this.config.threads[broken.thread]!.cpu,
        latencyNs: broken.latencyNs,
        tracingStopped: this.startInfo!.tracingReachable,
      },
    };
  }

  /**
   * `recorder` and its `views` are undefined when the session recorded natively: its histograms went to
   * takeIntervals(), and the result has the counters.
   */
  private threadResult(
    index: number,
    stats: NativeThreadStats,
    recorder: ThreadRecorder | undefined,
    views = { raw: newHistogram(), corrected: newHistogram() },
  ): ThreadResult {
    const plan = this.config.threads[index]!;
    const report = this.startInfo!.threads[index]!;
    return {
      thread: index,
      cpu: plan.cpu,
      tid: report.tid,
      periodNs: plan.periodNs,
      applied: report.applied,
      memoryLocked: report.memoryLocked,
      pageFaults: stats.pageFaults,
      ...summarize(views.raw, stats),
      overruns: stats.overruns,
      dropped: stats.dropped,
      lastNs: stats.lastNs,
      sumUs: stats.sumUs,
      histogramCount: views.raw.totalCount,
      corrected: {
        count: views.corrected.totalCount,
        maxNs: views.corrected.maxValue,
        percentiles: percentilesOf(views.corrected),
      },
      histogram: encodeHistogram(views.raw),
      correctedHistogram: encodeHistogram(views.corrected),
      microsecondHistogram: recorder?.microseconds ?? null,
      extremes: recorder?.extremes(stats.blocksLost) ?? { blockSize: 0, blockMaximaNs: [], blocksLost: stats.blocksLost, thresholdNs: null, exceedances: [] },
    };
  }

  private allThreads(raws: Histogram[], stats: NativeThreadStats[]): ProbeResult['all'] {
    const merged = newHistogram('cumulative');
    for (const raw of raws) merged.add(raw);
    return {
      ...summarize(merged, combineLatencies(stats)),
      overruns: stats.reduce((sum, thread) => sum + thread.overruns, 0),
      dropped: stats.reduce((sum, thread) => sum + thread.dropped, 0),
      histogram: encodeHistogram(merged),
    };
  }
}
