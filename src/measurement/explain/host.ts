// The host's view of a guest's wake-ups (rtlat guest --explain-host): while the guest measures, the
// host traces the CPUs its vCPU threads run on and keeps, for each vCPU thread, when it was runnable
// but not running (preempted, or woken and waiting) and who had its CPU meanwhile, and under KVM its
// exits. Afterwards each explained guest wake-up, moved onto the host's clock, is matched with them:
// the research's HVM finding (a guest's spike <- host load preempting the thread that runs the guest).
import type { ExplainedWakeup, ExplainSummary, HostWakeupView, RunExplain } from '../../run.js';
import { hostEvents, type TraceEvent } from '../../trace/events.js';
import { KernelTrace } from '../../trace/kernel-trace.js';
import { NS_PER_MS, NS_PER_S } from '../../units.js';
import { rankCulprits, shareLine } from './summary.js';

/** Intervals kept per vCPU thread at most (the oldest go first, counted). */
const MAX_INTERVALS = 500_000;
/** Only events this much older than what the reader has read are processed: other CPUs' events may still come. */
const SETTLE_NS = 20 * NS_PER_MS;
const POLL_MS = 100;
/** What a host CPU's history of switches keeps: enough to name who ran during any wait still open. */
const HISTORY_NS = 2 * NS_PER_S;

interface Waiting {
  startNs: number;
  endNs: number;
  /** Who held the CPU the vCPU thread then ran on, and for how long of the wait. */
  culprits: Map<string, number>;
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
  dropped: number;
}

/** Overlap of [a, b] and [c, d]. */
function overlap(a: number, b: number, c: number, d: number): number {
  return Math.max(0, Math.min(b, d) - Math.max(a, c));
}

export class HostVcpuTrace {
  private readonly trace: KernelTrace;
  private readonly vcpus = new Map<number, VcpuState>();
  /** Per host CPU: its switches (time, who came in), the last few seconds. */
  private readonly history = new Map<number, { ns: number; culprit: string }[]>();
  private processedUpToNs = 0;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

  /** Starts tracing `cpus` for the vCPU threads `vcpuTids` (in vCPU order). */
  constructor(
    readonly vcpuTids: readonly number[],
    cpus: readonly number[],
  ) {
    for (const tid of vcpuTids) this.vcpus.set(tid, { waitingSinceNs: null, exitSince: null, waits: [], exits: [], dropped: 0 });
    this.trace = KernelTrace.start({
      cpus,
      // Every switch on those CPUs (to name who held them), the vCPU threads' wake-ups and KVM exits.
      events: () => [
        { system: 'sched', event: 'sched_switch' },
        { system: 'sched', event: 'sched_wakeup', filter: vcpuTids.map((tid) => `pid == ${tid}`).join(' || ') },
        ...hostEvents(vcpuTids).filter((spec) => spec.system === 'kvm'),
      ],
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

  /** Every event of the traced CPUs before `toNs`, in time order across CPUs, through the state machine. */
  private process(toNs: number): void {
    if (toNs <= this.processedUpToNs) return;
    const events: TraceEvent[] = this.trace.cpus.flatMap((cpu) => this.trace.window(cpu, this.processedUpToNs, toNs).events.filter((event) => event.ts > this.processedUpToNs || this.processedUpToNs === 0));
    events.sort((a, b) => a.ts - b.ts);
    for (const event of events) this.step(event);
    this.processedUpToNs = toNs;
    for (const switches of this.history.values()) {
      const keepFrom = switches.findIndex((entry) => entry.ns >= toNs - HISTORY_NS);
      // Keep the one switch before the horizon too: it says who ran from then on.
      if (keepFrom > 1) switches.splice(0, keepFrom - 1);
    }
  }

  private step(event: TraceEvent): void {
    if (event.kind === 'switch') {
      const switches = this.history.get(event.cpu) ?? [];
      switches.push({ ns: event.ts, culprit: event.nextPid === 0 ? 'idle' : `${event.nextComm} (pid ${event.nextPid})` });
      this.history.set(event.cpu, switches);
      const left = this.vcpus.get(event.prevPid);
      // Leaving a CPU it was never seen to get: it came from idle, a switch some kernels do not trace.
      if (left && left.waitingSinceNs !== null) this.closeWait(left, event.cpu, left.waitingSinceNs, this.leftIdleAt(event.cpu, left.waitingSinceNs, event.ts));
      if (left && event.prevRunnable) left.waitingSinceNs = event.ts;
      const came = this.vcpus.get(event.nextPid);
      if (came && came.waitingSinceNs !== null) this.closeWait(came, event.cpu, came.waitingSinceNs, event.ts);
    } else if (event.kind === 'wakeup') {
      const woken = this.vcpus.get(event.wokenPid);
      if (woken && woken.waitingSinceNs === null) woken.waitingSinceNs = event.ts;
    } else if (event.kind === 'kvm-exit') {
      const vcpu = this.vcpus.get(event.pid);
      if (vcpu) vcpu.exitSince = { ns: event.ts, reason: event.reason };
    } else if (event.kind === 'kvm-entry') {
      const vcpu = this.vcpus.get(event.pid);
      if (vcpu?.exitSince) {
        this.keep(vcpu, vcpu.exits, { startNs: vcpu.exitSince.ns, endNs: event.ts, reason: vcpu.exitSince.reason });
        vcpu.exitSince = null;
      }
    }
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
    const culprits = new Map<string, number>();
    const switches = this.history.get(cpu) ?? [];
    // Who ran on the CPU from each switch to the next, within the wait (the last entry is the vCPU itself).
    for (let i = 0; i + 1 < switches.length; i++) {
      const ns = overlap(switches[i]!.ns, switches[i + 1]!.ns, startNs, endNs);
      if (ns > 0) culprits.set(switches[i]!.culprit, (culprits.get(switches[i]!.culprit) ?? 0) + ns);
    }
    this.keep(vcpu, vcpu.waits, { startNs, endNs, culprits });
  }

  private keep<T>(vcpu: VcpuState, list: T[], entry: T): void {
    list.push(entry);
    if (list.length > MAX_INTERVALS) {
      const drop = list.length - Math.floor(MAX_INTERVALS * 0.9);
      list.splice(0, drop);
      vcpu.dropped += drop;
    }
  }

  /** Stops tracing (the instance is removed) and processes what is left. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.trace.close();
    this.process(Number.POSITIVE_INFINITY);
  }

  /** What the host did to vCPU `vcpu`'s thread in [fromNs, toNs] of its clock. */
  viewOf(vcpu: number, fromNs: number, toNs: number): HostWakeupView | null {
    const tid = this.vcpuTids[vcpu];
    const state = tid === undefined ? undefined : this.vcpus.get(tid);
    if (tid === undefined || !state) return null;
    let preemptedNs = 0;
    const by = new Map<string, number>();
    for (const wait of state.waits) {
      if (wait.endNs <= fromNs || wait.startNs >= toNs) continue;
      const ns = overlap(wait.startNs, wait.endNs, fromNs, toNs);
      preemptedNs += ns;
      const whole = wait.endNs - wait.startNs;
      for (const [culprit, heldNs] of wait.culprits) by.set(culprit, (by.get(culprit) ?? 0) + (heldNs * ns) / whole);
    }
    // A wait still open at the end of the trace counts up to it.
    if (state.waitingSinceNs !== null && state.waitingSinceNs < toNs) preemptedNs += overlap(state.waitingSinceNs, toNs, fromNs, toNs);
    const reasons = new Map<string, { count: number; ns: number }>();
    let outsideNs = 0;
    for (const exit of state.exits) {
      const ns = overlap(exit.startNs, exit.endNs, fromNs, toNs);
      if (ns <= 0) continue;
      outsideNs += ns;
      const entry = reasons.get(exit.reason) ?? { count: 0, ns: 0 };
      entry.count++;
      entry.ns += ns;
      reasons.set(exit.reason, entry);
    }
    return {
      vcpuTid: tid,
      hostDueNs: fromNs,
      preemptedNs: Math.round(preemptedNs),
      preemptedBy: [...by].sort((a, b) => b[1] - a[1]).map(([culprit, ns]) => ({ culprit, ns: Math.round(ns) })),
      outsideGuestNs: this.trace.enabledEvents.includes('kvm:kvm_exit') ? outsideNs : null,
      exitReasons: [...reasons].sort((a, b) => b[1].ns - a[1].ns).map(([reason, { count, ns }]) => ({ reason, count, ns })),
    };
  }
}

/** The guest's explain section with each wake-up's host view and the host's summary added. */
export function withHostView(explain: RunExplain, host: HostVcpuTrace, toHost: (guestNs: number) => number, alignment: RunExplain['clockAlignment']): RunExplain {
  const wakeups: ExplainedWakeup[] = explain.wakeups.map((wakeup) => {
    const guestDueNs = explain.epochNs + wakeup.dueNs;
    const fromNs = toHost(guestDueNs);
    // In a guest the wake-up's CPU is its vCPU.
    return { ...wakeup, host: wakeup.cpu === null ? null : host.viewOf(wakeup.cpu, fromNs, toHost(guestDueNs + wakeup.latencyNs)) };
  });
  const preemptedNs = wakeups.reduce((sum, wakeup) => sum + (wakeup.host?.preemptedNs ?? 0), 0);
  const ranked = rankCulprits(wakeups.flatMap((wakeup, index) => (wakeup.host?.preemptedBy ?? []).map(({ culprit, ns }) => ({ key: culprit, id: culprit, ns, wakeup: index }))));
  const summary: ExplainSummary = {
    ...explain.summary,
    host: {
      preemptedNs,
      culprits: ranked.map(({ key, ns, wakeups: count }) => ({ culprit: key, ns, share: preemptedNs > 0 ? ns / preemptedNs : 0, wakeups: count })),
      headline: shareLine(ranked.map(({ key, ns }) => ({ name: key, ns })), preemptedNs),
    },
  };
  return { ...explain, wakeups, summary, clockAlignment: alignment };
}
