// What a service probe reports: per measuring thread and for the event loop, the interval since the
// previous snapshot and everything since the start, as summaries and as HDR histograms (values in ns).
import { encodeHistogram, type Histogram } from '../engine/histogram.js';
import type { LatencySummary } from '../engine/probe.js';

export interface ThreadSnapshot {
  thread: number;
  /** The CPU the thread is pinned to; null when not pinned (SCHED_DEADLINE). */
  cpu: number | null;
  /** Its Linux thread id (for top -H, perf, chrt -p). */
  tid: number;
  /** The policy the kernel applied, read back: 'other' where SCHED_FIFO was refused. */
  policy: string;
  periodNs: number;
  interval: LatencySummary;
  cumulative: LatencySummary;
  /** Yours to keep: the probe records on into new histograms. */
  intervalHistogram: Histogram;
  cumulativeHistogram: Histogram;
  /** Since the start: wake-ups skipped because their time had passed, and samples the ring could not hold. */
  overruns: number;
  dropped: number;
}

export interface EventLoopSnapshot {
  /** The monitor's timer period, already subtracted from every value. */
  resolutionNs: number;
  interval: LatencySummary;
  cumulative: LatencySummary;
  intervalHistogram: Histogram;
  cumulativeHistogram: Histogram;
}

export interface ServiceSnapshot {
  at: Date;
  /** When the interval began: the previous snapshot, or the start. */
  intervalStart: Date;
  startedAt: Date;
  /** Set-up steps the kernel refused (e.g. SCHED_FIFO without the right); empty when nothing was. */
  degraded: string[];
  threads: ThreadSnapshot[];
  /** Null when the probe was started with `eventLoop: false`. */
  eventLoop: EventLoopSnapshot | null;
}

type Encoded<T> = { [K in keyof T]: T[K] extends Histogram ? string : T[K] extends Date ? string : T[K] };

export interface ServiceSnapshotJson extends Omit<Encoded<ServiceSnapshot>, 'threads' | 'eventLoop'> {
  threads: Encoded<ThreadSnapshot>[];
  eventLoop: Encoded<EventLoopSnapshot> | null;
}

/** The snapshot as JSON can carry it: dates in ISO 8601, histograms as HdrHistogram V2 compressed base64 (as in run files). */
export function snapshotToJson(snapshot: ServiceSnapshot): ServiceSnapshotJson {
  return {
    at: snapshot.at.toISOString(),
    intervalStart: snapshot.intervalStart.toISOString(),
    startedAt: snapshot.startedAt.toISOString(),
    degraded: snapshot.degraded,
    threads: snapshot.threads.map((thread) => ({
      ...thread,
      intervalHistogram: encodeHistogram(thread.intervalHistogram),
      cumulativeHistogram: encodeHistogram(thread.cumulativeHistogram),
    })),
    eventLoop: snapshot.eventLoop && {
      ...snapshot.eventLoop,
      intervalHistogram: encodeHistogram(snapshot.eventLoop.intervalHistogram),
      cumulativeHistogram: encodeHistogram(snapshot.eventLoop.cumulativeHistogram),
    },
  };
}
