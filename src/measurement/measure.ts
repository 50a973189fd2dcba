// One measurement, start to run file: the load (if any), the CPU counters before and after, the
// fingerprint, the probe and the run file. `rtlat measure` and `rtlat cyclictest` are its clients; the
// commands keep only what they print.
import { diffCpuCounters, readCpuCounters, readFingerprint } from '../fingerprint/index.js';
import { loadCpusFor, startLoad, type LoadHandle, type LoadSpec } from '../load/index.js';
import type { ProbeOptions } from '../options.js';
import { Probe, type ProbeHooks } from '../probe.js';
import type { Spike } from '../recorder.js';
import { runFileFromProbe, type RunFile } from '../run.js';
import { RTLAT_VERSION } from '../version.js';

export interface MeasureRunOptions {
  probe: ProbeOptions;
  /** Load generators running for the whole measurement; cpus null: the measured CPUs. */
  load?: { spec: LoadSpec; cpus: number[] | null } | null;
  /** Recorded in the run file. */
  commandLine: string;
  /** Aborting it stops the run early (SIGINT, SIGTERM); the run file then says so. */
  signal?: AbortSignal;
}

export interface MeasureRunHooks extends ProbeHooks {
  /** Right after the threads started (before the first drain): the probe, to watch or to stop it. Throwing aborts the run. */
  onStart?: (probe: Probe) => void;
  /** Once the threads have stopped, before the run file is built. */
  onStop?: () => void;
}

/** Spikes listed in the run file at most; beyond, they are counted. */
const SPIKES_KEPT = 100_000;

export async function measureRun(options: MeasureRunOptions, hooks: MeasureRunHooks = {}): Promise<RunFile> {
  let load: LoadHandle | null = null;
  try {
    const spikes: Spike[] = [];
    let spikesOmitted = 0;
    const probe = new Probe(options.probe, {
      ...hooks,
      onSpike: (spike) => {
        hooks.onSpike?.(spike);
        if (spikes.length < SPIKES_KEPT) spikes.push(spike);
        else spikesOmitted++;
      },
    });
    const environment = readFingerprint();
    const measuredCpus = [...new Set(probe.config.threads.flatMap((plan) => (plan.cpu === null ? [] : [plan.cpu])))];
    // Running before the first wake-up, so the whole measurement is under load.
    if (options.load) load = await startLoad(options.load.spec, { cpus: options.load.cpus ?? loadCpusFor(probe.config) });
    const countersBefore = readCpuCounters(measuredCpus);
    probe.start();
    let signalled = false;
    const stopOnAbort = () => {
      signalled = true;
      void probe.stop();
    };
    options.signal?.addEventListener('abort', stopOnAbort, { once: true });
    try {
      hooks.onStart?.(probe);
      if (options.signal?.aborted) stopOnAbort();
      await probe.finished;
    } catch (error) {
      await probe.stop();
      throw error;
    } finally {
      options.signal?.removeEventListener('abort', stopOnAbort);
    }
    const result = await probe.stop();
    const during = diffCpuCounters(countersBefore, readCpuCounters(measuredCpus));
    const runLoad = load ? await load.stop() : null;
    hooks.onStop?.();
    return runFileFromProbe(result, {
      rtlatVersion: RTLAT_VERSION,
      commandLine: options.commandLine,
      environment,
      during,
      stoppedBy: signalled ? 'signal' : undefined,
      spikes,
      spikesOmitted,
      load: runLoad,
    });
  } finally {
    // On the error paths (stop() is idempotent): the load never outlives the measurement.
    await load?.stop().catch(() => {});
  }
}
