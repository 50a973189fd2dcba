// The run file: rtlat's JSON result, version 1 (docs/run-schema.md, docs/run.schema.json).
// `rtlat measure --json` writes it, `rtlat import cyclictest` produces it, and every later tool
// (compare, merge, report) reads only this. Every type persisted in it is defined here: the engine,
// the importer and merge fill these types, they do not define them.
import type { CpuCountersDelta, Fingerprint } from '../fingerprint/index.js';

export const RUN_SCHEMA = 'rtlat.run';
export const RUN_SCHEMA_VERSION = 1;

export interface PercentileValue {
  percentile: number;
  valueNs: number;
  /** False when the run has too few samples for this percentile to mean anything, or valueNs is only a bound. */
  reliable: boolean;
  /**
   * True when the percentile lies beyond the histogram's last bucket, among samples known only to be
   * that high (cyclictest -h's overflows): valueNs is then a lower bound, not a value.
   */
  atLeast?: true;
}

/** Samples kept out of a histogram because all that is known of them is a lower bound (cyclictest -h's overflows). */
export interface BeyondHistogram {
  count: number;
  /** Each of them was at least this late. */
  fromNs: number;
}

/** cyclictest's -h histogram: one bucket per microsecond below maxUs, the rest counted as overflows. */
export interface MicrosecondHistogram {
  maxUs: number;
  buckets: number[];
  overflows: number;
  /** Cycle numbers of the overflowing samples (cyclictest prints them); like cyclictest, at most maxUs of them. */
  overflowCycles: number[];
}

export interface Spike {
  thread: number;
  cpu: number | null;
  cycle: number;
  latencyNs: number;
  /** When the wake-up was due, in ns since the run's start. */
  dueNs: number;
}

/** One wake-up among a thread's largest, with when it happened. */
export interface Exceedance {
  cycle: number;
  latencyNs: number;
  /** When the wake-up was due, in ns since the run's start. */
  dueNs: number;
}

/** What a thread kept for extreme-value analysis (rtlat analyze). */
export interface ThreadExtremes {
  /** Wake-ups per block. */
  blockSize: number;
  /** The largest latency of each complete block, in order (the last, incomplete block is left out). */
  blockMaximaNs: number[];
  /** Block maxima the loop could not hand over (its block ring was full). */
  blocksLost: number;
  /** Every latency above this is in `exceedances` (null when the thread measured nothing). */
  thresholdNs: number | null;
  /** The thread's largest latencies, in time order: every one above `thresholdNs`. */
  exceedances: Exceedance[];
}

/** Why the probe stopped; a run file also says 'signal' when SIGINT or SIGTERM stopped it. */
export type StopReason = 'completed' | 'stopped' | 'breaktrace';

/** The sample that ended a run with --breaktrace. */
export interface Breaktrace {
  thread: number;
  cpu: number | null;
  latencyNs: number;
  /** True when tracefs was reachable: a trace_marker was written and tracing_on set to 0. */
  tracingStopped: boolean;
}

export interface RunConfig {
  periodNs: number;
  policy: string;
  priority: number;
  clock: 'monotonic' | 'realtime';
  /** Added to the period of each further thread (cyclictest -d). */
  distanceNs: number;
  aligned: boolean;
  /** With aligned: the first wake-ups this long after the full second (cyclictest --secaligned USEC); null otherwise. Absent in files written before it existed. */
  alignOffsetNs?: number | null;
  /** Started together, thread N's first wake-up N times this after the common start (cyclictest -A USEC); null otherwise. Absent in files written before it existed. */
  staggerNs?: number | null;
  loops: number | null;
  /** With loops: the first thread to reach them ended the run for every thread (cyclictest -l), whose others then measured fewer. Absent in files written before it existed: read as false. */
  loopsEndAll?: boolean;
  durationNs: number | null;
  /** The CPU of each thread, in thread order (null: not pinned). */
  cpus: (number | null)[];
  /** Where the process's other threads were pinned (rtlat --main-cpus, cyclictest --mainaffinity); null: left alone. Absent in files written before it existed. */
  mainCpus?: number[] | null;
  lockMemory: boolean;
  dmaLatency: boolean;
  allowDegraded: boolean;
  spikeThresholdNs: number | null;
  breakThresholdNs: number | null;
  histogramMaxUs: number | null;
}

export interface RunThread {
  thread: number;
  cpu: number | null;
  tid: number | null;
  periodNs: number;
  /** Read back from the kernel after set-up; null in imports that do not say. */
  applied: { policy: string; priority: number; cpus: number[] } | null;
  memoryLocked: boolean | null;
  pageFaults: number | null;
  count: number;
  minNs: number;
  avgNs: number;
  maxNs: number;
  /** The last latency measured (cyclictest's "Act"). */
  lastNs: number | null;
  /** Each latency truncated to whole us, summed (cyclictest's Avg is sumUs / count); null when unknown (an import without a complete us histogram). */
  sumUs: number | null;
  overruns: number | null;
  dropped: number;
  percentiles: PercentileValue[];
  corrected: { count: number; maxNs: number; percentiles: PercentileValue[] } | null;
  /** HdrHistogram V2 compressed and base64-encoded, values in ns; null when the source kept none. */
  histogram: string | null;
  /** Samples not in `histogram`, known only to be at least so late (an import's -h overflows); absent or null: none. */
  beyondHistogram?: BeyondHistogram | null;
  correctedHistogram: string | null;
  microsecondHistogram: MicrosecondHistogram | null;
  /**
   * What extreme-value analysis (rtlat analyze) needs: block maxima and the largest latencies with
   * their times. Null for imports; absent in files written before rtlat kept it (read as null).
   */
  extremes?: ThreadExtremes | null;
}

export interface RunFile {
  schema: typeof RUN_SCHEMA;
  schemaVersion: typeof RUN_SCHEMA_VERSION;
  /** Who measured: rtlat itself, or cyclictest for imported runs. */
  tool: { name: 'rtlat' | 'cyclictest'; version: string };
  rtlatVersion: string;
  commandLine: string;
  startTime: string;
  endTime: string;
  config: RunConfig;
  /** Where it was measured (src/fingerprint); null when unknown. */
  environment: Fingerprint | null;
  /** What the measured CPUs went through during the run (steal time, interrupts, context switches); null when unknown. */
  during: CpuCountersDelta | null;
  /** For a run inside a guest: the fingerprint of the machine hosting it (rtlat guest fills it); null otherwise. */
  hostEnvironment: Fingerprint | null;
  degraded: string[];
  dmaLatencyHeld: boolean | null;
  stoppedBy: StopReason | 'signal';
  breaktrace: Breaktrace | null;
  threads: RunThread[];
  all: {
    count: number;
    minNs: number;
    avgNs: number;
    maxNs: number;
    overruns: number | null;
    dropped: number;
    percentiles: PercentileValue[];
    histogram: string | null;
    /** As each thread's. */
    beyondHistogram?: BeyondHistogram | null;
  };
  spikes: Spike[];
  /** Spikes beyond the list's cap, counted but not listed. */
  spikesOmitted: number;
  /** The load generated while measuring (rtlat measure --load); null when none. */
  load: RunLoad | null;
  /** For a run inside a guest: how rtlat guest ran it; null otherwise. */
  guest: RunGuest | null;
  /** Why the late wake-ups were late (rtlat measure --explain); absent when not asked for. */
  explain?: RunExplain;
  /** For a run made in an emulated lab host (rtlat lab): which, and how deep; absent otherwise. */
  lab?: RunLab;
}

/** Where rtlat lab ran a run: an emulated host of a kind, and what ran in it. */
export interface RunLab {
  host: 'xen' | 'kvm';
  /** How QEMU ran the lab host. */
  accelerator: 'kvm' | 'tcg';
  /** Always true: a lab host is a machine QEMU made up, whatever ran inside it. */
  emulated: true;
  /** For people: "lab xen/tcg > domU pvh", "lab kvm/tcg > guest kvm", "lab xen/tcg > dom0". */
  nesting: string;
  /** "Xen 4.17 with a Dom0 (Linux 6.1.0-57-amd64)"; null when not known (derived from a fingerprint). */
  description: string | null;
}

/** How a run inside a guest was made (rtlat guest, rtlat matrix): what the guest itself cannot know. */
export type RunGuest = RunQemuGuest | RunXenGuest;

/** A thread's scheduling as read back from the kernel (chrt -p, taskset -p) once the guest was up. */
export interface RunThreadState {
  tid: number;
  /** Its name (comm), e.g. "CPU 0/KVM" or "qemu-system-x86". */
  name: string;
  /** "fifo", "rr", "other", "batch", "idle" or "deadline". */
  policy: string;
  priority: number;
  cpus: number[];
}

/** A guest QEMU ran (rtlat guest --kernel). */
export interface RunQemuGuest {
  /** Absent in files written before Xen guests existed. */
  hypervisor?: 'qemu';
  accelerator: 'kvm' | 'tcg';
  /** True under TCG: QEMU emulated the CPU, so the latencies are the emulator's, not a hypervisor's. */
  emulated: boolean;
  /** Why this accelerator ("a KVM probe boot came up", "/dev/kvm is absent", ...). */
  acceleratorReason: string;
  kernel: { path: string; release: string | null };
  qemu: { path: string; version: string | null };
  vcpus: number;
  memoryMiB: number;
  /** The host CPU each vCPU thread was pinned to, in vCPU order; null when not pinned. */
  vcpuCpus: number[] | null;
  /** SCHED_FIFO priority of every vCPU thread while measuring; null when left as they were. */
  qemuPriority: number | null;
  /** The command rtlat ran in the guest. */
  guestCommandLine: string;
  /** Every QEMU thread as read back once the guest was up (vcpu: the vCPU it runs, or null); absent in older files. */
  threads?: (RunThreadState & { vcpu: number | null })[];
}

/** A Xen domU (rtlat guest --hypervisor xen, run in Dom0). */
export interface RunXenGuest {
  hypervisor: 'xen';
  type: 'pv' | 'pvh' | 'hvm';
  /** True when Xen itself ran on an emulated machine (an rtlat lab host under TCG). */
  emulated: boolean;
  /** Why it counts as emulated, or null. */
  emulation: string | null;
  /** From `xl info`. */
  xen: { version: string | null; scheduler: string | null; pcpus: number | null; commandLine: string | null };
  domain: { name: string; id: number | null };
  kernel: { path: string; release: string | null };
  vcpus: number;
  memoryMiB: number;
  /** The physical CPU of each vCPU as `xl vcpu-list` read it back; null when not pinned. */
  vcpuCpus: number[] | null;
  /** How the image reached the guest: its ramdisk, or (HVM) a PV disk its init unpacks (firmware loads a ramdisk slowly). */
  image: 'ramdisk' | 'disk';
  /** An HVM guest's device model (QEMU in Dom0), its threads read back; null for PV and PVH. */
  deviceModel: { path: string | null; pid: number; priority: number | null; threads: RunThreadState[] } | null;
  /** Dom0's vCPUs and the physical CPUs they were pinned to while the load ran in Dom0; null without a load. */
  dom0LoadCpus: { vcpu: number; pcpu: number }[] | null;
  /** The command rtlat ran in the guest. */
  guestCommandLine: string;
}

export interface RunLoad {
  /** As given, e.g. "syscalls,ipc". */
  spec: string;
  cpus: number[];
  /** What each generator did: its kind and its operations per second. */
  generators: { kind: string; cpu: number | null; operations: number; opsPerSecond: number }[];
}

/**
 * The parts a late wake-up's latency is split into, named as rtla's timerlat auto-analysis names its
 * own: the timer's delay (L1), interrupt and softirq interference, the scheduling delay (a blocking,
 * non-preemptible task: L2; a task of higher or equal priority: interference I), the switch to the
 * thread and its return to user space, and what no event covers.
 */
export type ExplainPart =
  | 'irqHandlerDelay'
  | 'timerIrq'
  | 'irqInterference'
  | 'softirqInterference'
  | 'blockingThread'
  | 'threadInterference'
  | 'contextSwitch'
  | 'unexplained';

/** One stretch of a wake-up's latency, from its due time on; a wake-up's segments cover it exactly. */
export interface ExplainSegment {
  part: ExplainPart;
  /** From the due time, ns. */
  offsetNs: number;
  ns: number;
  /** What ran: "NET_RX", "irq 36 virtio1-req.0", "local_timer", "kworker/1:2 (pid 88)"; null when nothing is named. */
  culprit: string | null;
}

/** What the host did to the vCPU thread that carried a guest's wake-up (rtlat guest --explain-host). */
export interface HostWakeupView {
  /** The vCPU thread on the host. */
  vcpuTid: number;
  /** The wake-up on the host's clock: due time and latency, after the clock alignment. */
  hostDueNs: number;
  /** How long the vCPU thread was runnable but not running within the wake-up: preempted, or woken and not yet run. */
  preemptedNs: number;
  /** Who ran instead, longest first. */
  preemptedBy: { culprit: string; ns: number }[];
  /** Under KVM: time outside the guest within the wake-up (kvm_exit to kvm_entry), and why. */
  outsideGuestNs: number | null;
  exitReasons: { reason: string; count: number; ns: number }[];
}

export interface ExplainedWakeup {
  thread: number;
  cpu: number | null;
  cycle: number;
  /** When it was due, ns since the run's start (as spikes). */
  dueNs: number;
  latencyNs: number;
  /** False when trace events of its window were lost: its parts are then partly guessed. */
  complete: boolean;
  /** Each part's total, ns; they add up to latencyNs. */
  parts: Partial<Record<ExplainPart, number>>;
  segments: ExplainSegment[];
  host?: HostWakeupView | null;
}

/** A task named as a culprit, as the trace and /proc saw it. */
export interface ExplainTask {
  pid: number;
  comm: string;
  /** fifo, rr, other, batch, idle, deadline when /proc still knew the task; else rt, normal or deadline from its kernel priority. */
  policy: string;
  /** Real-time priority (fifo, rr, rt) or nice value (other, batch, idle, normal); null for deadline. */
  priority: number | null;
}

export interface ExplainSummary {
  wakeups: number;
  /** The explained wake-ups' latencies added up. */
  lateNs: number;
  parts: { part: ExplainPart; label: string; ns: number; share: number }[];
  /** The named causes, biggest first (at most 20). */
  culprits: { part: ExplainPart; culprit: string; ns: number; share: number; wakeups: number }[];
  /** One line: "timer delay 61%; softirq NET_RX 14%; blocking thread kworker/1:2 (pid 88) 12%; unexplained 13%". */
  headline: string;
  /** rtlat guest --explain-host: who preempted the vCPU threads during the explained wake-ups, biggest first. */
  host?: { preemptedNs: number; culprits: { culprit: string; ns: number; share: number; wakeups: number }[]; headline: string } | null;
}

export interface RunExplain {
  /** The run's time zero on CLOCK_MONOTONIC, the trace's clock: a wake-up was due at epochNs + dueNs. */
  epochNs: number;
  /** Which wake-ups were explained: those above thresholdNs, else above the thread's p99.9; at most maxPerThread a thread (the largest, when more are above). */
  selection: { thresholdNs: number | null; percentile: number | null; maxPerThread: number };
  trace: {
    /** The tracefs instance rtlat traced in (removed at the end). */
    instance: string;
    clock: string;
    reader: 'trace_pipe_raw';
    events: string[];
    /** Events asked for that the kernel does not have. */
    missingEvents: string[];
    bufferKbPerCpu: number;
    perCpu: { cpu: number; events: number; bytes: number; lostEvents: number }[];
    lostEvents: number;
  };
  threads: {
    thread: number;
    cpu: number | null;
    tid: number;
    thresholdNs: number;
    /** Wake-ups above the threshold. */
    above: number;
    explained: number;
    /** Of the explained, those whose trace was incomplete. */
    incomplete: number;
  }[];
  summary: ExplainSummary;
  tasks: ExplainTask[];
  wakeups: ExplainedWakeup[];
  /** rtlat guest --explain-host: how the guest's clock was aligned with the host's. */
  clockAlignment?: { offsetNs: number; errorNs: number; driftPpm: number } | null;
  /** rtlat guest --explain-host: what the host's trace of the vCPU threads' CPUs read and lost. */
  hostTrace?: { perCpu: { cpu: number; events: number; bytes: number; lostEvents: number }[]; lostEvents: number } | null;
}
