// The probe inside a Node service (`startProbe`): a native measuring thread in the background with
// defaults fit for production, Node's event-loop delay beside it, snapshots on demand, and optional
// jHiccup-style interval logs. Memory stays flat however long it runs: it keeps histograms, not
// samples, and never keeps the process alive by itself.
//
// Every read moves what is new into this module's histograms first (harvest): the wake-ups the
// Probe has drained since the previous read, and what the event-loop monitor recorded. From there
// they fan out to the cumulative view, the snapshot interval and the log interval.
import { OptionError } from '../errors.js';
import { hdrLogTag } from '../outputs/hdr-log.js';
import type { CumulativeView } from '../outputs/prometheus.js';
import { copyHistogram, newHistogram, type Histogram } from '../engine/histogram.js';
import type { ProbeConfig, ProbeOptions } from '../engine/options.js';
import { Probe, recordIntervalsOnly, summarize } from '../engine/probe.js';
import { usableCpus } from '../engine/system.js';
import { formatCpuList, formatDuration, NS_PER_MS } from '../units.js';
import { RTLAT_VERSION } from '../version.js';
import { EVENT_LOOP_RESOLUTION_MS, EventLoopDelay } from './event-loop.js';
import { resolveIntervalLogOptions, RotatingHdrLog, type IntervalLogOptions, type LoggedInterval } from './hdr-log-rotation.js';
import type { EventLoopSnapshot, ServiceSnapshot, ThreadSnapshot } from './snapshot.js';

/** The Probe's options that make sense for a probe that runs as long as the service does. */
const MEASURING_OPTIONS = [
  'periodNs',
  'cpus',
  'mainCpus',
  'threads',
  'policy',
  'priority',
  'deadlineRuntimeNs',
  'clock',
  'distanceNs',
  'aligned',
  'lockMemory',
  'dmaLatency',
  'allowDegraded',
  'ringCapacity',
  'drainIntervalMs',
] as const satisfies readonly (keyof ProbeOptions)[];

type MeasuringOptions = Pick<ProbeOptions, (typeof MEASURING_OPTIONS)[number]>;

export interface StartProbeOptions extends MeasuringOptions {
  /** Node's event-loop delay beside the wake-ups (default: on, at Node's 10 ms resolution); false: off. */
  eventLoop?: boolean | { resolutionMs?: number };
  /** Write an HdrHistogram interval log (tags `cpuN` and `event-loop`, untagged: all threads together), optionally rotated. */
  hdrLog?: IntervalLogOptions;
}

interface ThreadState {
  thread: number;
  cpu: number | null;
  tid: number;
  policy: string;
  periodNs: number;
  cumulative: Histogram;
  sinceSnapshot: Histogram;
  sinceLog: Histogram;
  overruns: number;
  dropped: number;
}

interface EventLoopState {
  monitor: EventLoopDelay;
  cumulative: Histogram;
  sinceSnapshot: Histogram;
  sinceLog: Histogram;
}

/**
 * A production service's probe: period 1 ms, one thread, SCHED_FIFO where permitted and `degraded`
 * saying so where not, memory locked where permitted, and no /dev/cpu_dma_latency request (it would
 * keep every CPU out of deep idle states for as long as the service runs) unless asked.
 */
function productionDefaults(given: StartProbeOptions): ProbeOptions {
  // Only the measuring options: a service probe has no run length, no outputs and no breaktrace.
  const options: MeasuringOptions = Object.fromEntries(MEASURING_OPTIONS.filter((key) => given[key] !== undefined).map((key) => [key, given[key]]));
  return {
    ...options,
    // The last CPU the process may use: CPU 0 carries the work that has no other home (the boot CPU's
    // housekeeping, unbound timers and interrupts on many machines, the tick for nohz_full CPUs), so
    // a probe there measures that more than the machine; CPUs reserved for latency-critical work
    // (isolcpus, nohz_full) are by convention the highest-numbered; and staying inside the affinity
    // mask (taskset, a cgroup cpuset, a container's --cpuset-cpus) keeps the probe where the service
    // itself may run. A 1 ms period takes that CPU for a few microseconds each time.
    cpus: options.cpus ?? (options.threads === undefined ? usableCpus().allowed.slice(-1) : undefined),
    dmaLatency: options.dmaLatency ?? false,
    allowDegraded: options.allowDegraded ?? true,
    keepProcessAlive: false,
  };
}

/** The event-loop monitor's resolution, or null for none. */
function eventLoopResolutionMs(option: StartProbeOptions['eventLoop']): number | null {
  if (option === undefined || option === true) return EVENT_LOOP_RESOLUTION_MS;
  if (option === false) return null;
  if (typeof option !== 'object' || option === null) throw new OptionError('eventLoop', option, 'true, false or { resolutionMs }');
  const resolutionMs = option.resolutionMs ?? EVENT_LOOP_RESOLUTION_MS;
  if (!Number.isInteger(resolutionMs) || resolutionMs < 1 || resolutionMs > 1_000) {
    throw new OptionError('eventLoop.resolutionMs', resolutionMs, 'a whole number of ms from 1 to 1000');
  }
  return resolutionMs;
}

/** How long a harvest serves further cumulative() reads. */
const HARVEST_REUSE_NS = 5 * NS_PER_MS;

export class ServiceProbe {
  readonly config: ProbeConfig;
  readonly startedAt: Date;
  private readonly probe: Probe;
  private readonly startedNs: bigint;
  private readonly threads: ThreadState[];
  private readonly eventLoop: EventLoopState | null;
  private log: { writer: RotatingHdrLog; timer: NodeJS.Timeout; sinceNs: number } | null = null;
  private readonly logWriter: RotatingHdrLog | null;
  private snapshotAt: Date;
  private stopping: Promise<ServiceSnapshot> | null = null;
  private harvestedNs = -Infinity;
  // At process exit the log's last interval is written and its file made to appear: 'exit' listeners may do synchronous work.
  private readonly onExit = () => this.closeLog();

  /** Use startProbe(). */
  constructor(options: StartProbeOptions = {}) {
    const resolutionMs = eventLoopResolutionMs(options.eventLoop);
    const logConfig = options.hdrLog === undefined ? null : resolveIntervalLogOptions(options.hdrLog);
    // Its histograms are this module's (harvest): the probe records nothing else.
    this.probe = recordIntervalsOnly(new Probe(productionDefaults(options)));
    this.config = this.probe.config;

    this.startedAt = new Date();
    this.startedNs = process.hrtime.bigint();
    this.snapshotAt = this.startedAt;
    // The log's first file opens before anything starts, so that a bad path fails at once.
    const writer = logConfig && new RotatingHdrLog(logConfig, this.startedAt, this.describe());
    this.logWriter = writer;
    try {
      this.probe.start();
    } catch (error) {
      writer?.abandon();
      throw error;
    }
    this.threads = this.config.threads.map((plan, index) => ({
      thread: plan.thread,
      cpu: plan.cpu,
      tid: this.probe.setup.threads[index]!.tid,
      policy: this.probe.setup.threads[index]!.applied.policy,
      periodNs: plan.periodNs,
      cumulative: newHistogram(),
      sinceSnapshot: newHistogram(),
      sinceLog: newHistogram(),
      overruns: 0,
      dropped: 0,
    }));
    this.eventLoop = resolutionMs === null ? null : { monitor: new EventLoopDelay(resolutionMs), cumulative: newHistogram(), sinceSnapshot: newHistogram(), sinceLog: newHistogram() };
    if (writer) {
      const timer = setInterval(() => this.writeLogInterval(), logConfig!.intervalMs);
      timer.unref();
      this.log = { writer, timer, sinceNs: 0 };
      process.on('exit', this.onExit);
    }
  }

  /** Set-up steps the kernel refused (e.g. "SCHED_FIFO priority 99 (EPERM)"); empty when the probe runs as asked. */
  get degraded(): readonly string[] {
    return this.probe.degraded;
  }

  /** The event-loop monitor's resolution (subtracted from its values); null when not watching the event loop. */
  get eventLoopResolutionNs(): number | null {
    return this.eventLoop?.monitor.resolutionNs ?? null;
  }

  /** Failures to write the HdrHistogram log so far (each lost the file it was writing); null without a log. */
  get hdrLogFailures(): number | null {
    return this.logWriter?.failures ?? null;
  }

  get running(): boolean {
    return this.stopping === null;
  }

  /** The interval since the previous snapshot (or the start) and everything since the start. */
  snapshot(): ServiceSnapshot {
    this.harvest();
    const at = new Date();
    const threads = this.threads.map((state): ThreadSnapshot => {
      const interval = state.sinceSnapshot;
      state.sinceSnapshot = newHistogram();
      const cumulative = copyHistogram(state.cumulative);
      return {
        thread: state.thread,
        cpu: state.cpu,
        tid: state.tid,
        policy: state.policy,
        periodNs: state.periodNs,
        interval: summarize(interval),
        cumulative: summarize(cumulative),
        intervalHistogram: interval,
        cumulativeHistogram: cumulative,
        overruns: state.overruns,
        dropped: state.dropped,
      };
    });
    let eventLoop: EventLoopSnapshot | null = null;
    if (this.eventLoop) {
      const interval = this.eventLoop.sinceSnapshot;
      this.eventLoop.sinceSnapshot = newHistogram();
      const cumulative = copyHistogram(this.eventLoop.cumulative);
      eventLoop = {
        resolutionNs: this.eventLoop.monitor.resolutionNs,
        interval: summarize(interval),
        cumulative: summarize(cumulative),
        intervalHistogram: interval,
        cumulativeHistogram: cumulative,
      };
    }
    const snapshot = { at, intervalStart: this.snapshotAt, startedAt: this.startedAt, degraded: [...this.degraded], threads, eventLoop };
    this.snapshotAt = at;
    return snapshot;
  }

  /**
   * Everything since the start, without touching the snapshot interval: for exporters at scrape time.
   * A scrape reads several metrics in a row; one harvest serves the reads of the same few milliseconds.
   */
  cumulative(): CumulativeView {
    if (this.elapsedNs() - this.harvestedNs > HARVEST_REUSE_NS) this.harvest();
    return {
      threads: this.threads.map(({ thread, cpu, policy, cumulative, overruns, dropped }) => ({ thread, cpu, policy, histogram: cumulative, overruns, dropped })),
      eventLoop: this.eventLoop?.cumulative ?? null,
    };
  }

  /** Stops measuring (within one period), writes and closes the log, and resolves to the last snapshot. Idempotent. */
  stop(): Promise<ServiceSnapshot> {
    this.stopping ??= this.finish();
    return this.stopping;
  }

  private async finish(): Promise<ServiceSnapshot> {
    const result = await this.probe.stop();
    result.threads.forEach((thread, index) => {
      this.threads[index]!.overruns = thread.overruns;
      this.threads[index]!.dropped = thread.dropped;
    });
    // The monitor stops first, so that the log and the last snapshot end on the same samples.
    this.eventLoop?.monitor.stop();
    this.closeLog();
    return this.snapshot();
  }

  /** Moves the samples that arrived since the previous harvest into every view. */
  private harvest(): void {
    this.harvestedNs = this.elapsedNs();
    const running = this.probe.running;
    this.probe.takeIntervals().forEach((taken, index) => {
      const state = this.threads[index]!;
      state.cumulative.add(taken.histogram);
      state.sinceSnapshot.add(taken.histogram);
      if (this.log) state.sinceLog.add(taken.histogram);
      // Once stopping, the counters come from the final result instead (the live ones are gone).
      if (running) {
        state.overruns = taken.overruns;
        state.dropped = taken.dropped;
      }
    });
    if (this.eventLoop) {
      const delays = this.eventLoop.monitor.harvest();
      this.eventLoop.cumulative.add(delays);
      this.eventLoop.sinceSnapshot.add(delays);
      if (this.log) this.eventLoop.sinceLog.add(delays);
    }
  }

  private elapsedNs(): number {
    return Number(process.hrtime.bigint() - this.startedNs);
  }

  private writeLogInterval(): void {
    const log = this.log!;
    this.harvest();
    const endNs = this.elapsedNs();
    const threadLines = this.threads.map((state) => ({ tag: hdrLogTag(state.thread, state.cpu), histogram: state.sinceLog }));
    // The untagged line, all threads together, is the one readers take when given no tag.
    const allThreads = newHistogram('interval');
    for (const { histogram } of threadLines) allThreads.add(histogram);
    const lines: LoggedInterval['lines'] = [...threadLines, { tag: null, histogram: allThreads }];
    if (this.eventLoop) lines.push({ tag: 'event-loop', histogram: this.eventLoop.sinceLog });
    // A failure (a full disk) drops the file being written and is reported; the probe goes on, and so does the log with the next interval.
    log.writer.write({ startNs: log.sinceNs, endNs, lines });
    for (const { histogram } of lines) histogram.reset();
    log.sinceNs = endNs;
  }

  /** Writes the interval in progress and makes the current file appear. */
  private closeLog(): void {
    if (!this.log) return;
    this.writeLogInterval();
    this.log.writer.close();
    clearInterval(this.log.timer);
    process.off('exit', this.onExit);
    this.log = null;
  }

  /** The log header's comment: enough to tell later which probe wrote it. */
  private describe(): string {
    const { config } = this;
    const cpus = config.threads.map((plan) => plan.cpu).filter((cpu): cpu is number => cpu !== null);
    return (
      `rtlat ${RTLAT_VERSION} service probe (pid ${process.pid}): period ${formatDuration(config.periodNs)}, ` +
      `${config.threads.length} thread(s)${cpus.length ? ` on CPU ${formatCpuList(cpus)}` : ''}, policy ${config.policy}; values in ns`
    );
  }
}

/** Starts a probe in the background of this process (or worker); see ServiceProbe for the defaults. */
export function startProbe(options: StartProbeOptions = {}): ServiceProbe {
  return new ServiceProbe(options);
}
