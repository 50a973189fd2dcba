// The typed facade over the addon: the only module that loads it. Everything the addon exports is
// declared here, so the rest of the TS layer knows exactly what crosses the boundary.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { PlatformError } from '../errors.js';

export type PolicyName = 'fifo' | 'rr' | 'other' | 'deadline';
export type ClockName = 'monotonic' | 'realtime';

export interface NativeThreadConfig {
  cpu: number;
  policy: PolicyName;
  priority: number;
  periodNs: number;
  runtimeNs: number;
  deadlineNs: number;
  ringCapacity: number;
  /** Wake-ups per block of the block maxima; 0: none kept. */
  blockSize: number;
  testStallAfterCycles: number;
  testStallNs: number;
  /** With an alignment: the first wake-up this long after the common start. */
  startOffsetNs: number;
}

export interface NativeSessionConfig {
  threads: NativeThreadConfig[];
  clock: ClockName;
  loops: number;
  /** The first thread to reach loops ends the session: the others stop at their next wake-up. */
  loopsEndAll: boolean;
  durationNs: number;
  /** First wake-ups: each thread's own, one common time, or the next full second. */
  alignment: 'none' | 'together' | 'second';
  lockMemory: boolean;
  requestDmaLatency: boolean;
  allowDegraded: boolean;
  breakThresholdNs: number;
  /** At the break, write a trace mark and stop ftrace. */
  traceOnBreak: boolean;
  /**
   * 0: drain() hands the samples over for JS to record. Otherwise the session records them itself:
   * a native thread of its own drains every ring this often into one histogram per measuring thread,
   * and takeHistogram() hands those over (drain() then throws).
   */
  recordIntervalNs: number;
}

/** errno values of each set-up step (0: done or not needed). */
export interface NativeSetupErrors {
  affinity: number;
  policy: number;
  timerSlack: number;
  memoryLock: number;
}

export interface NativeAppliedScheduling {
  /** As the kernel reports it: fifo, rr, other, batch, idle, deadline. */
  policy: string;
  priority: number;
  nice: number;
  runtimeNs: number;
  deadlineNs: number;
  periodNs: number;
  timerSlackNs: number;
  cpus: number[];
}

export interface NativeThreadReport {
  tid: number;
  memoryLocked: boolean;
  errors: NativeSetupErrors;
  applied: NativeAppliedScheduling;
}

export interface NativeStartResult {
  started: boolean;
  refused: boolean;
  launchErrno: number;
  codeLock: { locked: boolean; bytes: number; objects: number; errno: number };
  dmaLatency: { held: boolean; errno: number };
  tracingReachable: boolean;
  epochNs: number;
  threads: NativeThreadReport[];
}

export interface NativeThreadStats {
  count: number;
  overruns: number;
  dropped: number;
  /** Block maxima lost to a full block ring. */
  blocksLost: number;
  minNs: number;
  maxNs: number;
  sumNs: number;
  /** Sum of the latencies each truncated to whole us (cyclictest's Avg is sumUs / count). */
  sumUs: number;
  lastNs: number;
  pageFaults: number;
  finished: boolean;
}

export interface NativeSession {
  start(): NativeStartResult;
  /** Fills `into` with (latencyNs, dueNs, cycle) triples; returns how many samples it moved. */
  drain(threadIndex: number, into: Float64Array): number;
  /** Fills `into` with (maxNs, block) pairs, one per completed block; returns how many it moved. */
  drainBlocks(threadIndex: number, into: Float64Array): number;
  /**
   * With recordIntervalNs: thread `threadIndex`'s latencies recorded since the previous take, in
   * HdrHistogram's V2 encoding (uncompressed; ns, 3 significant digits); sized by the histogram's
   * buckets, not by the samples.
   */
  takeHistogram(threadIndex: number): Uint8Array;
  stats(): NativeThreadStats[];
  requestStop(): void;
  finished(): boolean;
  join(): void;
  /** Joins and frees the threads' memory; afterwards stats() is empty and drain() throws. */
  close(): void;
  breakInfo(): { thread: number; latencyNs: number } | null;
}

export interface NativePageReaderConfig {
  /** One per_cpu/cpuN/trace_pipe_raw per traced CPU. */
  paths: string[];
  pageBytes: number;
  /** Pages kept per CPU at most; beyond, the oldest are given up (counted as evicted). */
  maxPagesPerCpu: number;
  /** Pages are kept this long after they were read. */
  keepNs: number;
  pollIntervalNs: number;
  /** > 0: the reader thread runs at SCHED_FIFO with this priority; 0: at its ordinary one. */
  fifoPriority: number;
}

export interface NativePageReaderStats {
  pagesRead: number;
  bytesRead: number;
  /** Pages given up before their time because maxPagesPerCpu was reached. */
  pagesEvicted: number;
  pagesKept: number;
  /** The first read() error other than EAGAIN; 0 if none. */
  readErrno: number;
}

/** A thread that reads the per-CPU trace buffers while measuring and keeps their latest pages. */
export interface NativePageReader {
  /** 0, or the errno of the first file that could not be opened. */
  start(): number;
  /** Drains once more, ends the thread and closes the files; idempotent. */
  stop(): void;
  /** CLOCK_MONOTONIC time at which the last complete drain began: every event before it has been read. */
  drainedUpToNs(): number;
  /** Copies the kept pages of CPU `cpuIndex` that may hold events in [fromNs, toNs], oldest first. */
  copyRange(cpuIndex: number, fromNs: number, toNs: number, pages: Uint8Array, lengths: Uint32Array): { pages: number; startLost: boolean };
  stats(): NativePageReaderStats[];
  /** The errno of SCHED_FIFO being refused to the reader thread (it then reads at its ordinary priority); 0 if none. */
  priorityErrno(): number;
}

interface Addon {
  NativeSession: new (config: NativeSessionConfig) => NativeSession;
  NativePageReader: new (config: NativePageReaderConfig) => NativePageReader;
  /** CPUID leaf 0x40000000's vendor signature (e.g. "KVMKVMKVM"), or null when the CPU reports no hypervisor. */
  hypervisorVendor(): string | null;
  /** Pins thread `tid` of this process to `cpus` (sched_setaffinity); 0 or the errno. */
  pinThread(tid: number, cpus: number[]): number;
  /** Test-only: `valuesNs` recorded as a session's histogram thread records them, encoded as takeHistogram() hands them over. */
  encodeHistogramForTest(valuesNs: Float64Array): Uint8Array;
}

let addon: Addon | undefined;

/** Loads the addon on first use, so importing rtlat works everywhere and only measuring needs Linux. */
export function loadAddon(): Addon {
  if (addon) return addon;
  if (process.platform !== 'linux') {
    throw new PlatformError(`rtlat: the probe needs Linux (this is ${process.platform})`);
  }
  const require = createRequire(import.meta.url);
  const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  // RTLAT_ADDON points at another build of the same addon (the sanitizer build in CI).
  const override = process.env.RTLAT_ADDON;
  try {
    addon = override ? (require(path.resolve(override)) as Addon) : (require('node-gyp-build') as (root: string) => Addon)(packageRoot);
  } catch (error) {
    throw new PlatformError(
      `rtlat: the native addon is not built (${(error as Error).message.split('\n')[0]}); run \`npm install\` or \`npm run build\``,
    );
  }
  return addon;
}
