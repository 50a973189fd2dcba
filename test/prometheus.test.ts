// rtlat/prometheus: a probe's metrics in a prom-client registry, parsed back from the text format and
// checked against the probe's own histograms.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { register as globalRegistry, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { newHistogram } from '../src/engine/histogram.js';
import { startProbe } from '../src/index.js';
import { bucketCounts, LATENCY_BUCKETS_NS, METRIC_NAMES, registerProbeMetrics } from '../src/outputs/prometheus.js';
import { NS_PER_S } from '../src/units.js';
import { parseExposition, samplesOf, type Exposition } from './helpers/prometheus-text.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const BOUNDS = LATENCY_BUCKETS_NS.map((ns) => String(ns / NS_PER_S));

/** A histogram's series for one label set: cumulative buckets in order, then sum and count. */
function histogramSeries(exposition: Exposition, name: string, labels: Record<string, string>) {
  const buckets = samplesOf(exposition, `${name}_bucket`, labels);
  return {
    les: buckets.map((bucket) => bucket.labels.le),
    counts: buckets.map((bucket) => bucket.value),
    sum: samplesOf(exposition, `${name}_sum`, labels)[0]!.value,
    count: samplesOf(exposition, `${name}_count`, labels)[0]!.value,
  };
}

describe('bucketCounts', () => {
  it('counts each sample in the first bucket whose bound it does not exceed, and the rest above', () => {
    const histogram = newHistogram();
    histogram.recordValueWithCount(500, 3); // below 1 us
    histogram.recordValueWithCount(1_000, 2); // exactly 1 us: le="1e-06"
    histogram.recordValueWithCount(1_001, 1); // just above
    histogram.recordValueWithCount(5_000, 4); // exactly 5 us
    histogram.recordValueWithCount(250_000_000, 1); // above 100 ms
    const { counts, count, sumNs } = bucketCounts(histogram, LATENCY_BUCKETS_NS);
    expect(counts).toHaveLength(LATENCY_BUCKETS_NS.length + 1);
    expect(counts.slice(0, 3)).toEqual([5, 1, 4]);
    expect(counts.at(-1)).toBe(1);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(count);
    expect(count).toBe(11);
    // HDR's values are exact to 3 significant digits.
    expect(sumNs).toBeCloseTo(3 * 500 + 2 * 1_000 + 1_001 + 4 * 5_000 + 250_000_000, -6);
  });

  it('spans 1 us to 100 ms in 1-2-5 steps', () => {
    expect(BOUNDS[0]).toBe('0.000001');
    expect(BOUNDS.at(-1)).toBe('0.1');
    expect(BOUNDS).toHaveLength(16);
  });
});

describe('registerProbeMetrics', () => {
  it('exposes histograms, counters and the environment that parse back and agree with the probe', async () => {
    const probe = startProbe({ periodNs: 200_000, cpus: [0, 1] });
    const registry = new Registry();
    const registered = registerProbeMetrics(probe, { registry });
    // Without an HdrHistogram log there is no log to fail.
    expect([...registered.names].sort()).toEqual(Object.values(METRIC_NAMES).filter((name) => name !== METRIC_NAMES.hdrLogErrors).sort());
    await sleep(200);
    const last = await probe.stop();
    const exposition = parseExposition(await registry.metrics());

    expect(exposition.types.get(METRIC_NAMES.wakeupLatency)).toBe('histogram');
    expect(exposition.types.get(METRIC_NAMES.eventLoopDelay)).toBe('histogram');
    expect(exposition.types.get(METRIC_NAMES.overruns)).toBe('counter');
    expect(exposition.types.get(METRIC_NAMES.dropped)).toBe('counter');
    expect(exposition.types.get(METRIC_NAMES.environment)).toBe('gauge');

    for (const thread of last.threads) {
      const labels = { cpu: String(thread.cpu), policy: thread.policy };
      const series = histogramSeries(exposition, METRIC_NAMES.wakeupLatency, labels);
      expect(series.les).toEqual([...BOUNDS, '+Inf']);
      expect(series.counts).toEqual([...series.counts].sort((a, b) => a - b));
      expect(series.counts.at(-1)).toBe(series.count);
      expect(series.count).toBe(thread.cumulative.count);
      expect(series.sum).toBeCloseTo((thread.cumulative.avgNs * thread.cumulative.count) / NS_PER_S, 6);
      expect(samplesOf(exposition, METRIC_NAMES.overruns, labels)[0]!.value).toBe(thread.overruns);
      expect(samplesOf(exposition, METRIC_NAMES.dropped, labels)[0]!.value).toBe(thread.dropped);
    }
    const eventLoop = histogramSeries(exposition, METRIC_NAMES.eventLoopDelay, {});
    expect(eventLoop.les).toEqual([...BOUNDS, '+Inf']);
    expect(eventLoop.count).toBe(last.eventLoop!.cumulative.count);

    const [environment] = samplesOf(exposition, METRIC_NAMES.environment);
    expect(environment!.value).toBe(1);
    expect(environment!.labels.role).toMatch(/^(host|vm|container|vm\+container)$/);
    for (const label of ['technology', 'preemption', 'kernel', 'environment', 'version']) expect(environment!.labels).toHaveProperty(label);
    expect(samplesOf(exposition, METRIC_NAMES.degraded)[0]!.value).toBe(last.degraded.length > 0 ? 1 : 0);
  });

  it('moves samples in when scraped, from no timer of its own', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const probe = startProbe({ periodNs: 200_000 });
    const registry = new Registry();
    const before = timers();
    registerProbeMetrics(probe, { registry });
    expect(timers()).toBe(before);
    const count = async () => histogramSeries(parseExposition(await registry.metrics()), METRIC_NAMES.wakeupLatency, {}).count;
    const first = await count();
    // Samples reach the histograms at the histogram thread's passes, every 100 ms: room for two.
    await sleep(300);
    expect(await count()).toBeGreaterThan(first);
    await probe.stop();
  });

  it("uses prom-client's global registry by default, and unregisters", async () => {
    const probe = startProbe({ eventLoop: false });
    const registered = registerProbeMetrics(probe);
    try {
      expect(globalRegistry.getSingleMetric(METRIC_NAMES.wakeupLatency)).toBeDefined();
      // No event-loop metric for a probe that does not watch it.
      expect(registered.names).not.toContain(METRIC_NAMES.eventLoopDelay);
      expect(samplesOf(parseExposition(await globalRegistry.metrics()), `${METRIC_NAMES.wakeupLatency}_count`)).toHaveLength(1);
    } finally {
      registered.unregister();
      await probe.stop();
    }
    for (const name of Object.values(METRIC_NAMES)) expect(globalRegistry.getSingleMetric(name)).toBeUndefined();
  });

  it('refuses a second probe in the same registry, registering nothing of it', async () => {
    const registry = new Registry();
    const first = startProbe({ eventLoop: false });
    const second = startProbe();
    registerProbeMetrics(first, { registry });
    const names = registry.getMetricsAsArray().length;
    expect(() => registerProbeMetrics(second, { registry })).toThrow(/already has rtlat_wakeup_latency_seconds.*one probe per registry/);
    expect(registry.getMetricsAsArray()).toHaveLength(names);
    await Promise.all([first.stop(), second.stop()]);
  });
});

describe('examples/http-service.js', () => {
  let service: ChildProcess | null = null;
  afterEach(() => {
    service?.kill('SIGKILL');
    service = null;
  });

  it("serves its own metrics and rtlat's from one registry, and stops cleanly on SIGTERM", async () => {
    const example = path.resolve(import.meta.dirname, '../examples/http-service.js');
    const child = spawn(process.execPath, [example], { env: { ...process.env, PORT: '0' } });
    service = child;
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    while (!/listening on (http:\S+)/.test(stdout)) {
      if (child.exitCode !== null) throw new Error(`the example exited: ${stdout}`);
      await sleep(50);
    }
    const base = /listening on (http:\S+)/.exec(stdout)![1]!;
    await sleep(200);

    const exposition = parseExposition(await (await fetch(`${base}/metrics`)).text());
    expect(samplesOf(exposition, `${METRIC_NAMES.wakeupLatency}_count`)[0]!.value).toBeGreaterThan(0);
    expect(samplesOf(exposition, `${METRIC_NAMES.eventLoopDelay}_count`)).toHaveLength(1);
    // The service's own metrics (prom-client's defaults) sit beside them.
    expect(exposition.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    const latency = (await (await fetch(`${base}/latency`)).json()) as { wakeupP99Us: { policy: string }[]; eventLoopP99Us: number };
    expect(latency.wakeupP99Us).toHaveLength(1);
    expect(typeof latency.eventLoopP99Us).toBe('number');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/probe stopped after \d+ wake-ups/);
  });
});
