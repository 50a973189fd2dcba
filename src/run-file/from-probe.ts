// A run file from a probe's result and what the measurement knew around it (src/measurement/measure.ts).
import type { CpuCountersDelta, Fingerprint } from '../fingerprint/index.js';
import type { ProbeResult } from '../engine/probe.js';
import { RUN_SCHEMA, RUN_SCHEMA_VERSION, type RunExplain, type RunFile, type RunLoad, type Spike } from './schema.js';

export interface RunMetadata {
  rtlatVersion: string;
  commandLine: string;
  environment: Fingerprint | null;
  during: CpuCountersDelta | null;
  hostEnvironment?: Fingerprint | null;
  /** Overrides the probe's reason, e.g. 'signal' when SIGINT stopped the run. */
  stoppedBy?: RunFile['stoppedBy'] | undefined;
  spikes: Spike[];
  spikesOmitted: number;
  load?: RunLoad | null;
  explain?: RunExplain;
}

export function runFileFromProbe(result: ProbeResult, meta: RunMetadata): RunFile {
  const { config } = result;
  return {
    schema: RUN_SCHEMA,
    schemaVersion: RUN_SCHEMA_VERSION,
    tool: { name: 'rtlat', version: meta.rtlatVersion },
    rtlatVersion: meta.rtlatVersion,
    commandLine: meta.commandLine,
    startTime: result.startedAt.toISOString(),
    endTime: result.endedAt.toISOString(),
    config: {
      periodNs: config.periodNs,
      policy: config.policy,
      priority: config.priority,
      clock: config.clock,
      distanceNs: config.distanceNs,
      aligned: config.aligned,
      alignOffsetNs: config.alignOffsetNs,
      staggerNs: config.staggerNs,
      loops: config.loops,
      loopsEndAll: config.loopsEndAll,
      durationNs: config.durationNs,
      cpus: config.threads.map((plan) => plan.cpu),
      mainCpus: config.mainCpus,
      lockMemory: config.lockMemory,
      dmaLatency: config.dmaLatency,
      allowDegraded: config.allowDegraded,
      spikeThresholdNs: config.spikeThresholdNs,
      breakThresholdNs: config.breakThresholdNs,
      histogramMaxUs: config.histogramMaxUs,
    },
    environment: meta.environment,
    during: meta.during,
    hostEnvironment: meta.hostEnvironment ?? null,
    degraded: result.degraded,
    dmaLatencyHeld: result.dmaLatencyHeld,
    stoppedBy: meta.stoppedBy ?? result.stoppedBy,
    breaktrace: result.breaktrace,
    threads: result.threads.map((thread) => ({
      thread: thread.thread,
      cpu: thread.cpu,
      tid: thread.tid,
      periodNs: thread.periodNs,
      applied: { policy: thread.applied.policy, priority: thread.applied.priority, cpus: thread.applied.cpus },
      memoryLocked: thread.memoryLocked,
      pageFaults: thread.pageFaults,
      count: thread.count,
      minNs: thread.minNs,
      avgNs: thread.avgNs,
      maxNs: thread.maxNs,
      lastNs: thread.lastNs,
      sumUs: thread.sumUs,
      overruns: thread.overruns,
      dropped: thread.dropped,
      percentiles: thread.percentiles,
      corrected: thread.corrected,
      histogram: thread.histogram,
      correctedHistogram: thread.correctedHistogram,
      microsecondHistogram: thread.microsecondHistogram,
      extremes: thread.extremes,
    })),
    all: result.all,
    spikes: meta.spikes,
    spikesOmitted: meta.spikesOmitted,
    load: meta.load ?? null,
    guest: null,
    ...(meta.explain && { explain: meta.explain }),
  };
}
