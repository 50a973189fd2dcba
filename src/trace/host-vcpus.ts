// The host's view of a guest's vCPU threads (rtlat guest --explain-host): while the guest measures, the
// host traces the CPUs its vCPU threads run on and keeps, for each vCPU thread, when it was runnable
// but not running (preempted, or woken and waiting) and who had its CPU meanwhile, and under KVM its
// exits; afterwards any stretch of the host's clock can be asked what happened to a vCPU in it.
import type { HostWakeupView, RunExplain } from '../run-file/schema.js';
import { NS_PER_MS, NS_PER_S, NS_PER_US } from '../units.js';
import { hostEvents, type TraceEvent } from './events.js';
import { KernelTrace, type CpuTraceStats } from './kernel-trace.js';

/** Intervals kept per vCPU thread at most (the oldest go first, counted). */
const MAX_INTERVALS = 500_000;
/** KVM exits shorter than this are added up per bucket rather than kept one by one: under KVM they come by the hundred thousand a second. */
const SHORT_EXIT_NS = 5 * NS_PER_US;
const EXIT_BUCKET_NS = 10 * NS_PER_MS;
/** Only events this much older than what the reader has read are processed: other CPUs' events may still come. */
const SETTLE_NS = 20 * NS_PER_MS;
const POLL_MS = 100;
/** What a host CPU's history of switches keeps: enough to name who ran during any wait still open. */
const HISTORY_NS = 2 * NS_PER_S;

interface Waiting {
  startNs: number;
  endNs: number;
  /** Who held the CPU the vCPU thread then ran on, from when to when within the wait. */
  held: { startNs: number; endNs: number; culprit: string }[];
}

interface Exit {
  startNs: number;
  endNs: number;
  reason: string;
}

interface VcpuState {
  waitingSinceNs: number | null;
  exitSince: { ns: number; reason: string } | null;
  waits: Waiting[];
  exits: Exit[];
  /** Short exits, per EXIT_BUCKET_NS bucket: their count and time, and the reason of the most frequent. */
  shortExits: Map<number, Map<string, { count: number; ns: number }>>;
}

/** Overlap of [a, b] and [c, d]. */
function overlap(a: number, b: number, c: number, d: number): number {
  return Math.max(0, Math.min(b, d) - Math.max(a, c));
}

function keep<T>(list: T[], entry: T): void {
  list.push(entry);
  if (list.length > MAX_INTERVALS) list.splice(0, list.length - Math.floor(MAX_INTERVALS * 0.9));
}

/**
 * The vCPU threads' life on the host, from the host's events in time order: when each was runnable
 * but not running and who held its CPU meanwhile, and its KVM exits.
 */
export class VcpuTimeline {
  private readonly vcpus = new Map<number, VcpuState>();
  /** Per host CPU: its switches (time, who came in), the last few seconds. */
  private readonly history = new Map<number, { ns: number; culprit: string }[]>();

  /** `vcpuTids` in vCPU order. */
  constructor(readonly vcpuTids: readonly number[]) {
    for (const tid of vcpuTids) this.vcpus.set(tid, { waitingSinceNs: null, exitSince: null, waits: [], exits: [], shortExits: new Map() });
  }

  step(event: TraceEvent): void {
    if (event.kind === 'switch') {
      const left = this.vcpus.get(event.prevPid);
      // Leaving a CPU it was never seen to get: it came from idle, a switch some kernels do not trace.
      if (left && left.waitingSinceNs !== null) this.closeWait(left, event.cpu, left.waitingSinceNs, this.leftIdleAt(event.cpu, left.waitingSinceNs, event.ts));
      if (left && event.prevRunnable) left.waitingSinceNs = event.ts;
      const came = this.vcpus.get(event.nextPid);
      if (came && came.waitingSinceNs !== null) this.closeWait(came, event.cpu, came.waitingSinceNs, event.ts);
      const switches = this.history.get(event.cpu) ?? [];
      switches.push({ ns: event.ts, culprit: event.nextPid === 0 ? 'idle' : `${event.nextComm} (pid ${event.nextPid})` });
      this.history.set(event.cpu, switches);
    } else if (event.kind === 'wakeup') {
      const woken = this.vcpus.get(event.wokenPid);
      if (woken && woken.waitingSinceNs === null) woken.waitingSinceNs = event.ts;
    } else if (event.kind === 'kvm-exit') {
      const vcpu = this.vcpus.get(event.pid);
      if (vcpu) vcpu.exitSince = { ns: event.ts, reason: event.reason };
    } else if (event.kind === 'kvm-entry') {
      const vcpu = this.vcpus.get(event.pid);
      if (vcpu?.exitSince) {
        this.exited(vcpu, vcpu.exitSince.ns, event.ts, vcpu.exitSince.reason);
        vcpu.exitSince = null;
      }
    }
  }

  /** Forgets the switches older than `horizonNs` but the last of them (it says who ran from then on). */
  forgetBefore(horizonNs: number): void {
    for (const switches of this.history.values()) {
      const keepFrom = switches.findIndex((entry) => entry.ns >= horizonNs);
      if (keepFrom > 1) switches.splice(0, keepFrom - 1);
    }
  }

  private exited(vcpu: VcpuState, startNs: number, endNs: number, reason: string): void {
    if (endNs - startNs >= SHORT_EXIT_NS) return keep(vcpu.exits, { startNs, endNs, reason });
    const bucket = Math.floor(startNs / EXIT_BUCKET_NS);
    const reasons = vcpu.shortExits.get(bucket) ?? new Map<string, { count: number; ns: number }>();
    const entry = reasons.get(reason) ?? { count: 0, ns: 0 };
    entry.count++;
    entry.ns += endNs - startNs;
    reasons.set(reason, entry);
    vcpu.shortExits.set(bucket, reasons);
  }

  /**
   * When a CPU last went idle within [fromNs, toNs] (or was idle at fromNs already): where a thread seen
   * running without a traced switch to it began to run.
   */
  private leftIdleAt(cpu: number, fromNs: number, toNs: number): number {
    const switches = this.history.get(cpu) ?? [];
    for (let i = switches.length - 1; i >= 0; i--) {
      const entry = switches[i]!;
      if (entry.ns > toNs) continue;
      if (entry.ns <= fromNs) return entry.culprit === 'idle' ? fromNs : toNs;
      if (entry.culprit === 'idle') return entry.ns;
    }
    return toNs;
  }

  private closeWait(vcpu: VcpuState, cpu: number, startNs: number, endNs: number): void {
    vcpu.waitingSinceNs = null;
    if (endNs <= startNs) return;
    const held: Waiting['held'] = [];
    const switches = this.history.get(cpu) ?? [];
    // Who ran on the CPU from each switch to the next (the last one up to the end), within the wait.
    switches.forEach((entry, i) => {
      const from = Math.max(entry.ns, startNs);
      const to = Math.min(switches[i + 1]?.ns ?? endNs, endNs);
      if (to > from) held.push({ startNs: from, endNs: to, culprit: entry.culprit });
    });
    keep(vcpu.waits, { startNs, endNs, held });
  }

  /** What the host did to vCPU `vcpu`'s thread in [fromNs, toNs] of its clock; null for a vCPU it does not know. */
  viewOf(vcpu: number, fromNs: number, toNs: number, kvm: boolean): HostWakeupView | null {
    const tid = this.vcpuTids[vcpu];
    const state = tid === undefined ? undefined : this.vcpus.get(tid);
    if (tid === undefined || !state) return null;
    let preemptedNs = 0;
    const by = new Map<string, number>();
    for (const wait of state.waits) {
      const ns = overlap(wait.startNs, wait.endNs, fromNs, toNs);
      if (ns <= 0) continue;
      preemptedNs += ns;
      for (const held of wait.held) {
        const heldNs = overlap(held.startNs, held.endNs, fromNs, toNs);
        if (heldNs > 0) by.set(held.culprit, (by.get(held.culprit) ?? 0) + heldNs);
      }
    }
    // A wait still open at the end of the trace counts up to it.
    if (state.waitingSinceNs !== null) preemptedNs += overlap(state.waitingSinceNs, toNs, fromNs, toNs);
    const reasons = new Map<string, { count: number; ns: number }>();
    const add = (reason: string, count: number, ns: number) => {
      const entry = reasons.get(reason) ?? { count: 0, ns: 0 };
      entry.count += count;
      entry.ns += ns;
      reasons.set(reason, entry);
    };
    for (const exit of state.exits) {
      const ns = overlap(exit.startNs, exit.endNs, fromNs, toNs);
      if (ns > 0) add(exit.reason, 1, ns);
    }
    // Short exits by the share of their bucket that the wake-up covers.
    for (let bucket = Math.floor(fromNs / EXIT_BUCKET_NS); bucket * EXIT_BUCKET_NS < toNs; bucket++) {
      const share = overlap(bucket * EXIT_BUCKET_NS, (bucket + 1) * EXIT_BUCKET_NS, fromNs, toNs) / EXIT_BUCKET_NS;
      for (const [reason, { count, ns }] of state.shortExits.get(bucket) ?? []) add(reason, count * share, ns * share);
    }
    const outsideNs = [...reasons.values()].reduce((sum, entry) => sum + entry.ns, 0);
    return {
      vcpuTid: tid,
      hostDueNs: fromNs,
      preemptedNs: Math.round(preemptedNs),
      preemptedBy: [...by].sort((a, b) => b[1] - a[1]).map(([culprit, ns]) => ({ culprit, ns: Math.round(ns) })),
      outsideGuestNs: kvm ? Math.round(outsideNs) : null,
      exitReasons: [...reasons].sort((a, b) => b[1].ns - a[1].ns).map(([reason, { count, ns }]) => ({ reason, count: Math.round(count), ns: Math.round(ns) })),
    };
  }
}

/** Traces the host's CPUs that run the vCPU threads while the guest measures, into a VcpuTimeline. */
export class HostVcpuTrace {
  private readonly trace: KernelTrace;
  readonly timeline: VcpuTimeline;
  private processedUpToNs = 0;
  private readonly timer: NodeJS.Timeout;
  /** What the host's trace read and lost, once stopped. */
  stats: CpuTraceStats[] = [];
  private stopped = false;

  /** Starts tracing `cpus` for the vCPU threads `vcpuTids` (in vCPU order). */
  constructor(vcpuTids: readonly number[], cpus: readonly number[]) {
    this.timeline = new VcpuTimeline(vcpuTids);
    this.trace = KernelTrace.start({
      cpus,
      events: () => hostEvents(vcpuTids),
      bufferKbPerCpu: 4096,
      keepNs: 4 * NS_PER_S,
      maxKeptBytesPerCpu: 64 << 20,
      // QEMU's threads may run at SCHED_FIFO (--qemu-priority): the reader stays an ordinary task.
      readerFifoPriority: 0,
    });
    this.processedUpToNs = this.trace.readUpToNs();
    this.timer = setInterval(() => this.process(this.trace.readUpToNs() - SETTLE_NS), POLL_MS);
    this.timer.unref();
  }

  /** Every event of the traced CPUs in (processed so far, toNs], in time order across CPUs, into the timeline. */
  private process(toNs: number): void {
    if (toNs <= this.processedUpToNs) return;
    const fromNs = this.processedUpToNs;
    const events = this.trace.cpus.flatMap((cpu) => this.trace.window(cpu, fromNs, toNs).events.filter((event) => event.ts > fromNs));
    events.sort((a, b) => a.ts - b.ts);
    for (const event of events) this.timeline.step(event);
    this.processedUpToNs = toNs;
    this.timeline.forgetBefore(toNs - HISTORY_NS);
  }

  /** Stops tracing (the instance is removed) and processes what is left. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.stats = this.trace.close();
    this.process(Number.POSITIVE_INFINITY);
  }

  viewOf(vcpu: number, fromNs: number, toNs: number): HostWakeupView | null {
    return this.timeline.viewOf(vcpu, fromNs, toNs, this.trace.enabledEvents.includes('kvm:kvm_exit'));
  }
}

/** The guest's explain section with each wake-up's host view (on the host's clock through `toHost`), the clock alignment and the host trace's figures. */
export function withHostViews(explain: RunExplain, host: HostVcpuTrace, toHost: (guestNs: number) => number, alignment: RunExplain['clockAlignment']): RunExplain {
  const wakeups = explain.wakeups.map((wakeup) => {
    const guestDueNs = explain.epochNs + wakeup.dueNs;
    // In a guest the wake-up's CPU is its vCPU.
    return { ...wakeup, host: wakeup.cpu === null ? null : host.viewOf(wakeup.cpu, toHost(guestDueNs), toHost(guestDueNs + wakeup.latencyNs)) };
  });
  const hostTrace = { perCpu: host.stats, lostEvents: host.stats.reduce((sum, cpu) => sum + cpu.lostEvents, 0) };
  return { ...explain, wakeups, clockAlignment: alignment, hostTrace };
}
