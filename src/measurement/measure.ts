// One measurement, start to run file: the load (if any), the CPU counters before and after, the
// fingerprint, the probe, the trace that explains its late wake-ups (if asked), and the run file. `rtlat measure`, `rtlat sweep` and `rtlat matrix` are its
// clients, and so can a user's script be:
//
//   const run = await measureRun({ periodNs: 100_000, cpus: [1], loops: 10_000, load: 'syscalls' });
import type { CompletedInterval } from '../engine/recorder.js';
import type { ProbeConfig, ProbeOptions } from '../engine/options.js';
import { Probe } from '../engine/probe.js';
import { diffCpuCounters, readCpuCounters, readFingerprint, type Fingerprint } from '../fingerprint/index.js';
import { loadCpusFor, startLoad, type LoadHandle, type LoadSpec } from '../load/index.js';
import { runFileFromProbe } from '../run-file/from-probe.js';
import type { RunFile, Spike } from '../run-file/schema.js';
import { RTLAT_VERSION } from '../version.js';
import { ExplainCollector, type ExplainOptions } from './explain/collector.js';

// What the callers that plan a measurement need of the engine, so that none of them reaches into it.
export type { ProbeConfig, ProbeOptions } from '../engine/options.js';
export { privilegeMessage } from '../engine/privileges.js';
export { configuredCpuCount, numaAvailable, numaNodeOfCpu } from '../engine/system.js';
/** One thread's exact native counters while it measures (Probe.liveStats()). */
export type LiveThreadStats = ReturnType<Probe['liveStats']>[number];
export { usableCpus } from '../engine/system.js';

export interface MeasureOptions extends ProbeOptions {
  /** Load generators running for the whole measurement, as `rtlat measure --load` takes them ("syscalls,ipc"); null: none. */
  load?: LoadSpec | string | null;
  /** CPUs for the load (default: the measured CPUs). */
  loadCpus?: readonly number[] | null;
  /** Recorded in the run file (default: this process's command line). */
  commandLine?: string;
  /** Aborting it stops the run early (as SIGINT stops `rtlat measure`), at once if before it started: the run file then says stoppedBy "signal". */
  signal?: AbortSignal;
  /** The fingerprint to record, when the caller has read it already (a sweep reads it once); default: read here. */
  environment?: Fingerprint;
  /** Trace the measured CPUs and explain the late wake-ups (measure --explain); null or absent: no trace. */
  explain?: ExplainOptions | null;
}

/** A measurement while it runs: what a live status line reads, and a way to stop it early. */
export interface LiveMeasurement {
  readonly config: ProbeConfig;
  readonly startedAt: Date;
  /** Set-up steps the kernel refused in a run allowed to degrade. */
  readonly degraded: readonly string[];
  /** The set-up of each thread as read back from the kernel (tids, policies, CPUs, each step's errno). */
  readonly setup: Probe['setup'];
  /** The exact native counters right now, per thread. */
  liveStats(): LiveThreadStats[];
  /** Stops measuring now; measureRun then resolves as for a run that ended. */
  stop(): Promise<unknown>;
}

export interface MeasureHooks {
  /** Each sample above `spikeThresholdNs`, as it is drained (the run file lists the first SPIKES_KEPT). */
  onSpike?: (spike: Spike) => void;
  /** Every sample as drained, (latencyNs, dueNs, cycle) triples (cyclictest -v); `samples` is reused after the call. */
  onSamples?: (thread: number, samples: Float64Array, count: number) => void;
  /** Each completed interval of `intervalNs` (HdrHistogram logs), with the CPU of its thread. */
  onInterval?: (interval: CompletedInterval, cpu: number | null) => void;
  /** Right after the threads started, before the first drain. Throwing stops the run and rejects. */
  onStart?: (run: LiveMeasurement) => void;
  /** Once the threads have stopped, before the run file is built. */
  onStop?: () => void;
}

/** Spikes listed in the run file at most; beyond, they are counted (spikesOmitted). */
export const SPIKES_KEPT = 100_000;

function processCommandLine(): string {
  return process.argv.join(' ');
}

/**
 * Measures as `options` say and resolves to the run file. Rejects with OptionError for a bad option,
 * PrivilegeError when the kernel refuses the set-up (unless allowDegraded), and the load's errors;
 * nothing it started (threads, load generators) outlives a rejection.
 */
export async function measureRun(options: MeasureOptions = {}, hooks: MeasureHooks = {}): Promise<RunFile> {
  const { load: loadSpec, loadCpus, commandLine, signal, environment: givenEnvironment, explain: explainOptions, ...probeOptions } = options;
  let explain: ExplainCollector | null = null;
  const spikes: Spike[] = [];
  let spikesOmitted = 0;
  const probe: Probe = new Probe(probeOptions, {
    onSpike: (spike) => {
      hooks.onSpike?.(spike);
      if (spikes.length < SPIKES_KEPT) spikes.push(spike);
      else spikesOmitted++;
    },
    ...((hooks.onSamples || explainOptions) && {
      onSamples: (thread: number, samples: Float64Array, count: number) => {
        hooks.onSamples?.(thread, samples, count);
        explain?.onSamples(thread, samples, count);
      },
    }),
    ...(hooks.onInterval && { onInterval: (interval) => hooks.onInterval!(interval, probe.config.threads[interval.thread]!.cpu) }),
  });
  let load: LoadHandle | null = null;
  let stopped = false;
  const stopOnAbort = () => {
    stopped = true;
    void probe.stop();
  };
  try {
    const environment = givenEnvironment ?? readFingerprint();
    const measuredCpus = [...new Set(probe.config.threads.flatMap((plan) => (plan.cpu === null ? [] : [plan.cpu])))];
    // Running before the first wake-up, so the whole measurement is under load.
    if (loadSpec !== undefined && loadSpec !== null) load = await startLoad(loadSpec, { cpus: loadCpus ?? loadCpusFor(probe.config) });
    const countersBefore = readCpuCounters(measuredCpus);
    // Tracing from before the first wake-up, so that every one can be explained.
    if (explainOptions) explain = new ExplainCollector(probe.config, explainOptions);
    probe.start();
    explain?.attach(probe.setup.epochNs, probe.setup.threads.map((thread) => thread.tid));
    signal?.addEventListener('abort', stopOnAbort, { once: true });
    hooks.onStart?.(probe);
    if (signal?.aborted) stopOnAbort();
    await probe.finished;
    const result = await probe.stop();
    const during = diffCpuCounters(countersBefore, readCpuCounters(measuredCpus));
    const runLoad = load ? await load.stop() : null;
    const explained = explain?.finish(result);
    hooks.onStop?.();
    return runFileFromProbe(result, {
      rtlatVersion: RTLAT_VERSION,
      commandLine: commandLine ?? processCommandLine(),
      environment,
      during,
      stoppedBy: stopped ? 'signal' : undefined,
      spikes,
      spikesOmitted,
      load: runLoad,
      ...(explained && { explain: explained }),
    });
  } finally {
    signal?.removeEventListener('abort', stopOnAbort);
    // On the error paths (stop() and abort() are idempotent): neither the threads, the load nor the trace outlive the measurement.
    await probe.stop().catch(() => {});
    await load?.stop().catch(() => {});
    explain?.abort();
  }
}
