// Tracing while measuring: rtlat's own tracefs instance on the measured CPUs, on the engine's clock,
// its per-CPU buffers read as raw pages by a native thread while the run goes on (bench/explain: the
// text pipe costs the measured CPUs far more), and the events around any moment decoded on request.
// Lost events are counted from the buffers' own counters and the pages' missed-events flags.
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { newPageReader, type PageReader } from '../engine/trace-reader.js';
import { cpuMaskHex, removeStaleInstances, TraceInstance, tracefsRoot, type BufferStats } from './tracefs.js';
import { eventDecoders, type EventSpec, type TraceEvent } from './events.js';
import { decodePage, type RecordDecoder } from './pages.js';

export interface KernelTraceOptions {
  cpus: readonly number[];
  /** The events to enable, given the instance's events folder (some depend on what the kernel has). */
  events: (eventsDir: string) => EventSpec[];
  /** The kernel's buffer per CPU (buffer_size_kb). */
  bufferKbPerCpu: number;
  /** How long rtlat keeps each CPU's pages after reading them: how late a window can still be read. */
  keepNs: number;
  /** ... but at most this much of them a CPU. */
  maxKeptBytesPerCpu: number;
  /** > 0: the reader thread runs at SCHED_FIFO with this priority. */
  readerFifoPriority: number;
  /** How often the reader drains the buffers (default 10 ms): less often costs less, and needs a larger buffer. */
  pollIntervalNs?: number;
}

/** Per traced CPU: what was read and what was lost. */
export interface CpuTraceStats {
  cpu: number;
  /** Events read from the buffer. */
  events: number;
  bytes: number;
  /** Events the kernel lost (overwritten before they were read, or refused when full). */
  lostEvents: number;
}

export interface TraceWindow {
  events: TraceEvent[];
  /** False when events of the window were lost (by the kernel, or no longer kept by rtlat). */
  complete: boolean;
}

/** trace_clock "mono" is CLOCK_MONOTONIC (ktime_get_mono_fast_ns), the clock the engine measures on. */
export const TRACE_CLOCK = 'mono';
const POLL_INTERVAL_NS = 10_000_000;
const MAX_WINDOW_PAGES = 1024;

function errnoName(code: number): string {
  return Object.entries(constants.errno).find(([, value]) => value === code)?.[0] ?? `errno ${code}`;
}

export class KernelTrace {
  readonly cpus: readonly number[];
  /** The events enabled, as system:event. */
  readonly enabledEvents: string[];
  /** Events asked for that this kernel does not have. */
  readonly missingEvents: string[];
  private readonly decoders: Map<number, RecordDecoder>;
  private readonly pageBytes: number;
  private readonly pages: Uint8Array;
  private readonly lengths = new Uint32Array(MAX_WINDOW_PAGES);
  private finalStats: CpuTraceStats[] | null = null;
  private readonly closeAtExit = () => this.close();

  private constructor(
    private readonly instance: TraceInstance,
    private readonly reader: PageReader,
    options: { cpus: readonly number[]; enabled: string[]; missing: string[]; decoders: Map<number, RecordDecoder>; pageBytes: number },
  ) {
    this.cpus = options.cpus;
    this.enabledEvents = options.enabled;
    this.missingEvents = options.missing;
    this.decoders = options.decoders;
    this.pageBytes = options.pageBytes;
    this.pages = new Uint8Array(MAX_WINDOW_PAGES * options.pageBytes);
    // process.exit() and uncaught errors skip the caller's clean-up; SIGINT and SIGTERM reach it.
    process.once('exit', this.closeAtExit);
  }

  /** The instance's name (rtlat-<pid>). */
  get instanceName(): string {
    return this.instance.name;
  }

  /** Sets up the instance and starts reading; tracing is on when this returns. */
  static start(options: KernelTraceOptions): KernelTrace {
    const root = tracefsRoot();
    removeStaleInstances(root);
    const instance = TraceInstance.create(root);
    try {
      instance.write('tracing_on', '0');
      instance.setClock(TRACE_CLOCK);
      instance.write('tracing_cpumask', cpuMaskHex(options.cpus));
      instance.write('buffer_size_kb', String(options.bufferKbPerCpu));
      const enabled: string[] = [];
      const missing: string[] = [];
      const specs = options.events(instance.file('events'));
      for (const spec of specs) {
        (instance.enableEvent(spec.system, spec.event, spec.filter) ? enabled : missing).push(`${spec.system}:${spec.event}`);
      }
      const pageBytes = subBufferBytes(instance);
      const reader = newPageReader({
        paths: options.cpus.map((cpu) => instance.file(`per_cpu/cpu${cpu}/trace_pipe_raw`)),
        pageBytes,
        maxPagesPerCpu: Math.max(16, Math.ceil(options.maxKeptBytesPerCpu / pageBytes)),
        keepNs: options.keepNs,
        pollIntervalNs: options.pollIntervalNs ?? POLL_INTERVAL_NS,
        fifoPriority: options.readerFifoPriority,
      });
      const opened = reader.start();
      if (opened !== 0) throw new Error(`rtlat: could not open the trace buffers of ${instance.dir} (${errnoName(opened)})`);
      const trace = new KernelTrace(instance, reader, {
        cpus: options.cpus,
        enabled,
        missing,
        decoders: eventDecoders(instance.file('events'), specs.filter((spec) => enabled.includes(`${spec.system}:${spec.event}`))),
        pageBytes,
      });
      instance.write('tracing_on', '1');
      return trace;
    } catch (error) {
      instance.remove();
      throw error;
    }
  }

  /** Every event recorded before this CLOCK_MONOTONIC time has been read. */
  readUpToNs(): number {
    return this.reader.drainedUpToNs();
  }

  /** The events of `cpu` within [fromNs, toNs], oldest first; after close() too, from the pages kept. */
  window(cpu: number, fromNs: number, toNs: number): TraceWindow {
    const index = this.cpus.indexOf(cpu);
    if (index < 0) return { events: [], complete: false };
    const copy = this.reader.copyRange(index, fromNs, toNs, this.pages, this.lengths);
    const events: TraceEvent[] = [];
    let complete = !copy.startLost && copy.pages < MAX_WINDOW_PAGES;
    for (let page = 0; page < copy.pages; page++) {
      const bytes = Buffer.from(this.pages.buffer, this.pages.byteOffset + page * this.pageBytes, this.lengths[page]!);
      const summary = decodePage(bytes, cpu, this.decoders, fromNs, toNs, events);
      // Lost just before a page that starts inside the window: a hole in it.
      if (summary.missedBefore !== 0 && summary.startNs > fromNs) complete = false;
    }
    return { events, complete };
  }

  /**
   * Stops tracing, reads what is left and removes the instance; the pages read stay available to
   * window(). Idempotent; returns each CPU's figures.
   */
  close(): CpuTraceStats[] {
    if (this.finalStats) return this.finalStats;
    process.removeListener('exit', this.closeAtExit);
    try {
      this.instance.write('tracing_on', '0');
    } catch {
      // Removed from outside already: the figures below say what was read.
    }
    this.reader.stop();
    const read = this.reader.stats();
    this.finalStats = this.cpus.map((cpu, index) => {
      let buffer: BufferStats | null = null;
      try {
        buffer = this.instance.bufferStats(cpu);
      } catch {
        // As above.
      }
      return {
        cpu,
        events: buffer?.read ?? 0,
        bytes: read[index]?.bytesRead ?? 0,
        lostEvents: buffer ? buffer.overrun + buffer.commitOverrun + buffer.dropped : 0,
      };
    });
    this.instance.remove();
    return this.finalStats;
  }
}

/** The size of the buffer's pages (sub-buffers): buffer_subbuf_size_kb where the kernel has it, else a page. */
function subBufferBytes(instance: TraceInstance): number {
  try {
    return Number(readFileSync(instance.file('buffer_subbuf_size_kb'), 'utf8').trim()) * 1024 || 4096;
  } catch {
    return 4096;
  }
}
