// rtlat measure --explain: traces the measured CPUs while the probe measures, keeps the trace only
// around the wake-ups that may need explaining (the largest ones of each thread, at most maxPerThread,
// so memory stays bounded however long the run), splits each of them into its parts while its pages
// are still kept, and at the end explains those above the threshold (by default the run's p99.9, known
// only then).
import { readFileSync } from 'node:fs';
import { decodeHistogram, forEachBucket } from '../../engine/histogram.js';
import { RING_SECONDS, type ProbeConfig } from '../../engine/options.js';
import type { ProbeResult } from '../../engine/probe.js';
import type { ExplainedWakeup, ExplainTask, RunExplain } from '../../run-file/schema.js';
import { usableCpus } from '../../engine/system.js';
import { explainEvents } from '../../trace/events.js';
import { KernelTrace, TRACE_CLOCK } from '../../trace/kernel-trace.js';
import { NS_PER_MS, NS_PER_S, NS_PER_US } from '../../units.js';
import { attributeWakeup, type TaskLookup } from './attribute.js';
import { partsOf, summarizeExplained } from './summary.js';

export interface ExplainOptions {
  /** Explain the wake-ups above this latency; null: above each thread's p99.9. */
  thresholdNs: number | null;
  /** At most this many wake-ups a thread, the largest. */
  maxPerThread: number;
}

export const DEFAULT_EXPLAIN_MAX = 1000;
export const EXPLAIN_PERCENTILE = 99.9;

/** Events a wake-up costs the trace (the timer interrupt's entry and exit, the wake-up, two switches, and some), and their bytes. */
const EVENTS_PER_WAKEUP = 7;
const BYTES_PER_EVENT = 44;
/** What an idle CPU records anyway (ticks, RCU, housekeeping), bytes/s. */
const BASELINE_BYTES_PER_S = 256 * 1024;
/** The kernel's buffer holds this long of events: the reader thread may be kept off a CPU that long. */
const KERNEL_BUFFER_SECONDS = 1;
/**
 * rtlat keeps each CPU's pages this long. A wake-up's trace is copied out once the drain has seen
 * the wake-up, which on a loaded machine can be seconds late: as long as the sample rings last
 * (src/options.ts), so that what the probe does not lose, the trace does not either ...
 */
const KEEP_NS = RING_SECONDS * NS_PER_S;
/** ... but at most this much a CPU, whatever the event rate (interrupt storms, network traffic). */
const MAX_KEPT_BYTES_PER_CPU = 64 << 20;
/** A window's trace counts as read once the reader has drained this long after the wake-up. */
const READ_MARGIN_NS = NS_PER_MS;
/**
 * A candidate is split this long after it woke (or at the end), not at once: by then most of those a
 * run's first samples put in the heap have been pushed out by larger ones, and are never split. Well
 * within KEEP_NS, so that its pages are still there.
 */
const EXPLAIN_AFTER_NS = KEEP_NS / 2;
const READER_INTERVAL_NS = 10 * NS_PER_MS;
const READER_INTERVAL_SLOW_NS = 50 * NS_PER_MS;
/** Candidates kept beyond twice those that can lie above the percentile: ties within its histogram bucket. */
const CANDIDATES_SPARE = 16;
/** Far enough back before the due time to see a handler already running then, or the thread preempted. */
const LOOKBACK_NS = 50 * NS_PER_US;

interface Candidate {
  latencyNs: number;
  dueNs: number;
  cycle: number;
  evicted: boolean;
  explained: ExplainedWakeup | null;
}

/** The smallest candidate on top: the one to give up when a larger one arrives. */
class CandidateHeap {
  readonly items: Candidate[] = [];

  get min(): Candidate | undefined {
    return this.items[0];
  }

  push(candidate: Candidate): void {
    const items = this.items;
    items.push(candidate);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.latencyNs <= items[i]!.latencyNs) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  pop(): Candidate | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && items[left]!.latencyNs < items[smallest]!.latencyNs) smallest = left;
        if (right < items.length && items[right]!.latencyNs < items[smallest]!.latencyNs) smallest = right;
        if (smallest === i) break;
        [items[smallest], items[i]] = [items[i]!, items[smallest]!];
        i = smallest;
      }
    }
    return top;
  }
}

/** The kernel priority a measuring thread runs at (sched_switch's prio: 99 - rtprio, 120 + nice, -1 deadline). */
function kernelPrio(config: ProbeConfig): number {
  if (config.policy === 'fifo' || config.policy === 'rr') return 99 - config.priority;
  return config.policy === 'deadline' ? -1 : 120;
}

const POLICY_NUMBERS: Record<number, string> = { 0: 'other', 1: 'fifo', 2: 'rr', 3: 'batch', 5: 'idle', 6: 'deadline' };

/** What /proc says of a task now: its comm, kernel priority and policy; null when it is gone. */
function procTask(pid: number): { comm: string; prio: number; policy: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 18 and 41 of proc(5): priority (the kernel's prio - 100) and policy.
    return { comm, prio: Number(fields[15]) + 100, policy: POLICY_NUMBERS[Number(fields[38])] ?? 'other' };
  } catch {
    return null;
  }
}

function describeTask(pid: number, seen: { comm: string; prio: number | null }): ExplainTask {
  const now = procTask(pid);
  const prio = seen.prio ?? now?.prio ?? null;
  const sameTask = now !== null && now.comm === seen.comm;
  const policy = sameTask ? now.policy : prio === null ? 'unknown' : prio < 0 ? 'deadline' : prio < 100 ? 'rt' : 'normal';
  const priority = prio === null || prio < 0 ? null : prio < 100 ? 99 - prio : prio - 120;
  return { pid, comm: seen.comm, policy, priority };
}

export class ExplainCollector {
  private readonly trace: KernelTrace;
  private readonly heaps: CandidateHeap[];
  /** Per thread, the wake-ups above an explicit threshold (with the percentile, counted from the histogram at the end). */
  private readonly above: number[];
  /** Per thread, the candidates kept: maxPerThread, or fewer when no more can lie above the percentile. */
  private readonly keptPerThread: number[];
  private pending: { thread: number; candidate: Candidate }[] = [];
  private epochNs = 0;
  private tids: number[] = [];
  private readonly tasks = new Map<number, { comm: string; prio: number | null }>();
  /** The pid of each task named as a culprit. */
  private readonly culpritPids = new Map<string, number>();
  private readonly bufferKbPerCpu: number;

  /** Starts tracing (before the probe starts, so that its first wake-ups are traced too). */
  constructor(
    private readonly config: ProbeConfig,
    private readonly options: ExplainOptions,
  ) {
    // Unpinned threads (SCHED_DEADLINE) may wake on any CPU this process may use.
    const pinned = config.threads.map((plan) => plan.cpu);
    const cpus = pinned.includes(null) ? usableCpus().allowed : [...new Set(pinned as number[])].sort((a, b) => a - b);
    const shortestPeriodNs = Math.min(...config.threads.map((plan) => plan.periodNs));
    const threadsPerCpu = Math.max(...cpus.map((cpu) => pinned.filter((pinnedCpu) => pinnedCpu === cpu || pinnedCpu === null).length));
    const bytesPerSecond = (threadsPerCpu * NS_PER_S * EVENTS_PER_WAKEUP * BYTES_PER_EVENT) / shortestPeriodNs + BASELINE_BYTES_PER_S;
    this.bufferKbPerCpu = Math.min(8192, Math.max(2048, Math.ceil((bytesPerSecond * KERNEL_BUFFER_SECONDS) / 1024)));
    this.heaps = config.threads.map(() => new CandidateHeap());
    this.above = config.threads.map(() => 0);
    this.keptPerThread = config.threads.map((plan) => {
      // A run of known length has at most so many wake-ups, and at most 1 - p of them above the percentile.
      const wakeups = config.loops ?? (config.durationNs === null ? null : Math.ceil(config.durationNs / plan.periodNs) + 1);
      if (options.thresholdNs !== null || wakeups === null) return options.maxPerThread;
      return Math.min(options.maxPerThread, 2 * Math.ceil((wakeups * (100 - EXPLAIN_PERCENTILE)) / 100) + CANDIDATES_SPARE);
    });
    this.trace = KernelTrace.start({
      cpus,
      events: explainEvents,
      bufferKbPerCpu: this.bufferKbPerCpu,
      keepNs: KEEP_NS,
      maxKeptBytesPerCpu: MAX_KEPT_BYTES_PER_CPU,
      // Just above ordinary tasks when the measuring threads are real-time: a loaded machine must not
      // keep the reader away until the kernel's buffer overflows, and the measured threads stay above it.
      readerFifoPriority: (config.policy === 'fifo' || config.policy === 'rr') && config.priority > 1 ? 1 : 0,
      // The buffer holds a second or more of events: at low rates a drain every 50 ms is plenty.
      pollIntervalNs: bytesPerSecond * READER_INTERVAL_SLOW_NS / NS_PER_S < (this.bufferKbPerCpu * 1024) / 10 ? READER_INTERVAL_SLOW_NS : READER_INTERVAL_NS,
    });
  }

  /** After the probe started: its time zero and its threads' TIDs. */
  attach(epochNs: number, tids: readonly number[]): void {
    this.epochNs = epochNs;
    this.tids = [...tids];
  }

  /** The probe's onSamples hook. */
  onSamples(thread: number, samples: Float64Array, count: number): void {
    const heap = this.heaps[thread]!;
    const floorNs = this.options.thresholdNs ?? -1;
    for (let i = 0; i < count; i++) {
      const latencyNs = samples[3 * i]!;
      if (latencyNs <= floorNs) continue;
      this.above[thread]!++;
      const kept = this.keptPerThread[thread]!;
      if (heap.items.length >= kept && latencyNs <= heap.min!.latencyNs) continue;
      const candidate: Candidate = { latencyNs, dueNs: samples[3 * i + 1]!, cycle: samples[3 * i + 2]!, evicted: false, explained: null };
      heap.push(candidate);
      this.pending.push({ thread, candidate });
      if (heap.items.length > kept) heap.pop()!.evicted = true;
    }
    this.explainRead(this.trace.readUpToNs());
  }

  /** Explains every pending candidate whose trace has been read up to `readUpToNs` (all that are left, once `finished`). */
  private explainRead(readUpToNs: number, finished = false): void {
    if (this.pending.length === 0) return;
    this.pending = this.pending.filter(({ thread, candidate }) => {
      if (candidate.evicted) return false;
      const wokeNs = this.epochNs + candidate.dueNs + candidate.latencyNs;
      if (wokeNs + Math.max(READ_MARGIN_NS, finished ? 0 : EXPLAIN_AFTER_NS) > readUpToNs) return true;
      candidate.explained = this.explain(thread, candidate);
      return false;
    });
  }

  private explain(thread: number, candidate: Candidate): ExplainedWakeup {
    const plan = this.config.threads[thread]!;
    const tid = this.tids[thread]!;
    const dueNs = this.epochNs + candidate.dueNs;
    const fromNs = dueNs - Math.min(LOOKBACK_NS, plan.periodNs);
    const toNs = dueNs + candidate.latencyNs;
    // An unpinned thread: the CPU whose trace shows its wake-up.
    const windows = (plan.cpu === null ? this.trace.cpus : [plan.cpu]).map((cpu) => ({ cpu, ...this.trace.window(cpu, fromNs, toNs) }));
    const window =
      windows.find(({ events }) => events.some((event) => (event.kind === 'wakeup' && event.wokenPid === tid) || (event.kind === 'switch' && event.nextPid === tid))) ??
      windows[0]!;
    const lookup: TaskLookup = (pid) => this.tasks.get(pid) ?? procTask(pid);
    const { segments, tasks, culpritPids } = attributeWakeup(window.events, { tid, prio: kernelPrio(this.config), dueNs, latencyNs: candidate.latencyNs }, lookup);
    for (const [pid, task] of tasks) if (pid !== tid && pid !== 0) this.tasks.set(pid, task);
    for (const [culprit, pid] of culpritPids) this.culpritPids.set(culprit, pid);
    return {
      thread,
      cpu: plan.cpu ?? window.cpu,
      cycle: candidate.cycle,
      dueNs: candidate.dueNs,
      latencyNs: candidate.latencyNs,
      complete: window.complete,
      parts: partsOf(segments),
      segments,
    };
  }

  /** Stops tracing, removes the instance and explains the wake-ups above each thread's threshold. */
  finish(result: ProbeResult): RunExplain {
    const perCpu = this.trace.close();
    this.explainRead(Number.POSITIVE_INFINITY, true);
    const threads = result.threads.map((thread, index) => {
      const thresholdNs = this.options.thresholdNs ?? thread.percentiles.find((value) => value.percentile === EXPLAIN_PERCENTILE)?.valueNs ?? 0;
      let above = this.above[index]!;
      if (this.options.thresholdNs === null) {
        // p99.9 is the top of its histogram bucket: the wake-ups above it are those of the buckets beyond.
        above = 0;
        forEachBucket(decodeHistogram(thread.histogram), (lowestNs, _median, count) => {
          if (lowestNs > thresholdNs) above += count;
        });
      }
      const explained = this.heaps[index]!.items
        .filter((candidate) => candidate.latencyNs > thresholdNs && candidate.explained)
        .map((candidate) => candidate.explained!);
      return { thread: index, cpu: thread.cpu, tid: thread.tid, thresholdNs, above, explained };
    });
    const wakeups = threads.flatMap((thread) => thread.explained).sort((a, b) => b.latencyNs - a.latencyNs);
    const named = new Set(wakeups.flatMap((wakeup) => wakeup.segments.flatMap((segment) => this.culpritPids.get(segment.culprit ?? '') ?? [])));
    return {
      epochNs: this.epochNs,
      selection: {
        thresholdNs: this.options.thresholdNs,
        percentile: this.options.thresholdNs === null ? EXPLAIN_PERCENTILE : null,
        maxPerThread: this.options.maxPerThread,
      },
      trace: {
        instance: this.trace.instanceName,
        clock: TRACE_CLOCK,
        reader: 'trace_pipe_raw',
        events: this.trace.enabledEvents,
        missingEvents: this.trace.missingEvents,
        bufferKbPerCpu: this.bufferKbPerCpu,
        perCpu,
        lostEvents: perCpu.reduce((sum, cpu) => sum + cpu.lostEvents, 0),
      },
      threads: threads.map(({ explained, ...thread }) => ({
        ...thread,
        explained: explained.length,
        incomplete: explained.filter((wakeup) => !wakeup.complete).length,
      })),
      summary: summarizeExplained(wakeups),
      tasks: [...named].filter((pid) => this.tasks.has(pid)).map((pid) => describeTask(pid, this.tasks.get(pid)!)),
      wakeups,
    };
  }

  /** Stops tracing and removes the instance without explaining (a run that failed). Idempotent. */
  abort(): void {
    this.trace.close();
  }
}
