// `rtlat/prometheus`: a service probe's metrics in a prom-client registry, the one Node services
// already expose. Nothing runs on a timer: at each scrape, every metric's collect() first moves the
// samples that arrived since the previous scrape into the probe's histograms (ServiceProbe.cumulative()),
// then reads them.
//
// The two latency histograms are filled from HDR histograms, bucket by bucket. prom-client's own
// Histogram can only observe() one sample at a time (~0.35-0.6 us each here): a scrape every 15 s of
// one thread at 1 kHz would stall the very event loop being measured for ~5 ms, and the first scrape
// after a day without one for half a minute. So they are custom collectors, as Prometheus's client
// libraries advise for data that arrives already bucketed: they present prom-client's metric
// interface (name, help, type, collect(), get()) and cost the same at every scrape, however many
// samples were taken.
import type { Metric, Registry } from 'prom-client';
import { describeEnvironment, readFingerprint, type Fingerprint } from '../fingerprint/index.js';
import { forEachBucket, type Histogram } from '../engine/histogram.js';
import { loadPromClient } from './prom-client.js';
import { NS_PER_S } from '../units.js';
import { RTLAT_VERSION } from '../version.js';

// prom-client is an optional peer dependency: without it, importing rtlat/prometheus fails with a line that says to install it.
const { Counter, Gauge, register: globalRegistry } = await loadPromClient();

/** 1-2-5 steps from 1 us to 100 ms, in ns: wake-up latencies from a tuned host to a starved guest. */
export const LATENCY_BUCKETS_NS: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000].map(
  (us) => us * 1_000,
);

export const METRIC_NAMES = {
  wakeupLatency: 'rtlat_wakeup_latency_seconds',
  eventLoopDelay: 'rtlat_event_loop_delay_seconds',
  overruns: 'rtlat_overruns_total',
  dropped: 'rtlat_dropped_samples_total',
  environment: 'rtlat_environment_info',
  degraded: 'rtlat_probe_degraded',
  hdrLogErrors: 'rtlat_hdr_log_errors_total',
} as const;

/** What exporters read at scrape time: the probe's own histograms, to be read at once and never changed. */
export interface CumulativeView {
  threads: { thread: number; cpu: number | null; policy: string; histogram: Histogram; overruns: number; dropped: number }[];
  eventLoop: Histogram | null;
}

/** What the metrics read of a probe: a ServiceProbe (startProbe) is one. */
export interface MetricsSource {
  /** Everything since the start, read at each scrape. */
  cumulative(): CumulativeView;
  /** The event-loop monitor's resolution; null when the probe does not watch the event loop. */
  readonly eventLoopResolutionNs: number | null;
  /** Failures of the probe's HdrHistogram log so far; null without a log. */
  readonly hdrLogFailures: number | null;
  readonly degraded: readonly string[];
}

export interface RegisterOptions {
  /** Where to register (default: prom-client's global registry, `register`). */
  registry?: Registry;
}

export interface RegisteredMetrics {
  readonly names: readonly string[];
  /** Removes the metrics from the registry (e.g. after probe.stop(), or to register another probe). */
  unregister(): void;
}

type Labels = Record<string, string>;

interface HistogramValue {
  labels: Labels;
  value: number;
  metricName: string;
}

/**
 * Per-bucket counts (not yet cumulative) of `histogram` for bounds in ns, plus the count above the last
 * bound and the sum. A sample counts as at most a bound when the lowest value of its HDR bucket is: the
 * same 0.1% resolution as every other figure rtlat reports.
 */
export function bucketCounts(histogram: Histogram, boundsNs: readonly number[]): { counts: number[]; count: number; sumNs: number } {
  const counts = new Array<number>(boundsNs.length + 1).fill(0);
  let bound = 0;
  let sumNs = 0;
  forEachBucket(histogram, (lowestNs, medianNs, count) => {
    while (bound < boundsNs.length && lowestNs > boundsNs[bound]!) bound++;
    counts[bound]! += count;
    sumNs += medianNs * count;
  });
  return { counts, count: histogram.totalCount, sumNs };
}

/**
 * A Prometheus histogram (seconds) whose buckets come from HDR histograms in ns. Series with the same
 * labels (two threads on one CPU) are summed.
 */
class HdrBackedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private series: { labels: Labels; histograms: Histogram[] }[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly read: () => { labels: Labels; histogram: Histogram }[],
  ) {}

  /** At scrape time: takes the current histograms (the read moves new samples in first). */
  collect(): void {
    const byLabels = new Map<string, { labels: Labels; histograms: Histogram[] }>();
    for (const { labels, histogram } of this.read()) {
      const key = JSON.stringify(labels);
      const entry = byLabels.get(key) ?? { labels, histograms: [] };
      entry.histograms.push(histogram);
      byLabels.set(key, entry);
    }
    this.series = [...byLabels.values()];
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: HistogramValue[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }

  /** The series' samples as prom-client formats them: cumulative buckets, sum and count. */
  values(): HistogramValue[] {
    this.collect();
    const values: HistogramValue[] = [];
    for (const { labels, histograms } of this.series) {
      const counts = new Array<number>(LATENCY_BUCKETS_NS.length + 1).fill(0);
      let count = 0;
      let sumNs = 0;
      for (const histogram of histograms) {
        const buckets = bucketCounts(histogram, LATENCY_BUCKETS_NS);
        buckets.counts.forEach((n, index) => (counts[index]! += n));
        count += buckets.count;
        sumNs += buckets.sumNs;
      }
      let atMost = 0;
      LATENCY_BUCKETS_NS.forEach((boundNs, index) => {
        atMost += counts[index]!;
        values.push({ labels: { ...labels, le: String(boundNs / NS_PER_S) }, value: atMost, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...labels, le: '+Inf' }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: sumNs / NS_PER_S, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    }
    return values;
  }

  /** Registry.resetMetrics(): these values are the probe's, since its start; there is nothing of the metric's own to reset. */
  reset(): void {}
}

function threadLabels(thread: CumulativeView['threads'][number]): Labels {
  return { cpu: thread.cpu === null ? 'any' : String(thread.cpu), policy: thread.policy };
}

/** The environment fingerprint as labels: empty where a value is unknown, as Prometheus treats a missing label. */
export function environmentLabels(fingerprint: Fingerprint): Labels {
  const { virtualization, kernel } = fingerprint;
  return {
    role: virtualization.role,
    technology: virtualization.technology.value ?? '',
    hypervisor: virtualization.hypervisor.value ?? '',
    container: virtualization.containerTechnology.value ?? '',
    preemption: kernel.preemption.value ?? '',
    kernel: kernel.release.value ?? '',
    environment: describeEnvironment(fingerprint),
    version: RTLAT_VERSION,
  };
}

/**
 * Registers `probe`'s metrics: rtlat_wakeup_latency_seconds{cpu,policy} and (when the probe watches
 * the event loop) rtlat_event_loop_delay_seconds, both histograms with buckets from 1 us to 100 ms;
 * rtlat_overruns_total and rtlat_dropped_samples_total{cpu,policy}; rtlat_environment_info{role,
 * technology,preemption,...} = 1; rtlat_probe_degraded = 1 when the kernel refused part of the set-up;
 * and (when the probe writes an HdrHistogram log) rtlat_hdr_log_errors_total.
 */
export function registerProbeMetrics(probe: MetricsSource, options: RegisterOptions = {}): RegisteredMetrics {
  const registry = options.registry ?? globalRegistry;
  const registers = [registry];
  const watchesEventLoop = probe.eventLoopResolutionNs !== null;
  const writesLog = probe.hdrLogFailures !== null;
  const names = Object.values(METRIC_NAMES).filter(
    (name) => (watchesEventLoop || name !== METRIC_NAMES.eventLoopDelay) && (writesLog || name !== METRIC_NAMES.hdrLogErrors),
  );
  // All or nothing: prom-client would refuse a taken name only after the metrics before it were registered.
  const taken = names.filter((name) => registry.getSingleMetric(name) !== undefined);
  if (taken.length) throw new Error(`rtlat: the registry already has ${taken.join(', ')} (one probe per registry; unregister the other first)`);

  const histograms = [
    new HdrBackedHistogram(METRIC_NAMES.wakeupLatency, 'How late the measuring threads woke, per CPU and applied policy.', ['cpu', 'policy'], () =>
      probe.cumulative().threads.map((thread) => ({ labels: threadLabels(thread), histogram: thread.histogram })),
    ),
  ];
  if (watchesEventLoop) {
    histograms.push(
      new HdrBackedHistogram(
        METRIC_NAMES.eventLoopDelay,
        "How late this process's event loop ran its timers (perf_hooks.monitorEventLoopDelay, its resolution subtracted).",
        [],
        () => [{ labels: {}, histogram: probe.cumulative().eventLoop! }],
      ),
    );
  }
  // prom-client's types list only its own four classes; its Registry takes any metric with their interface.
  for (const histogram of histograms) registry.registerMetric(histogram as unknown as Metric);
  // The first collection runs the scrape path's code for the first time (V8 compiles it then), which took
  // 20-50 ms here: an event-loop stall inside the service's first scrape (bench/service). Pay it now.
  for (const histogram of histograms) histogram.values();

  // Per-thread counters, read from the probe's own counts at scrape time.
  const threadCounter = (name: string, help: string, read: (thread: CumulativeView['threads'][number]) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['cpu', 'policy'],
      registers,
      collect() {
        this.reset();
        for (const thread of probe.cumulative().threads) this.inc(threadLabels(thread), read(thread));
      },
    });
  threadCounter(
    METRIC_NAMES.overruns,
    'Wake-ups skipped because their time had already passed (cyclictest skips them without counting), per CPU and applied policy.',
    (thread) => thread.overruns,
  );
  threadCounter(
    METRIC_NAMES.dropped,
    "Samples the measuring thread's ring could not hold (counted, not in the histogram), per CPU and applied policy.",
    (thread) => thread.dropped,
  );
  const environment = environmentLabels(readFingerprint());
  new Gauge({
    name: METRIC_NAMES.environment,
    help: 'Where the probe measures: host, vm or container, the hypervisor, the kernel and its preemption model.',
    labelNames: Object.keys(environment),
    registers,
    // The same machine for every cluster worker: one series, not their sum.
    aggregator: 'first',
    collect() {
      this.set(environment, 1);
    },
  });
  if (writesLog) {
    new Counter({
      name: METRIC_NAMES.hdrLogErrors,
      help: 'Failures to write the HdrHistogram interval log (a full disk, ...): each lost the file it was writing; the probe went on.',
      registers,
      collect() {
        this.reset();
        this.inc(probe.hdrLogFailures ?? 0);
      },
    });
  }
  new Gauge({
    name: METRIC_NAMES.degraded,
    help: 'The kernel refused part of the set-up (SCHED_FIFO, memory locking, ...): 1, else 0.',
    registers,
    aggregator: 'max',
    collect() {
      this.set(probe.degraded.length > 0 ? 1 : 0);
    },
  });

  return {
    names,
    unregister: () => {
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}
