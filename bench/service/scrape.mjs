#!/usr/bin/env node
// What one read of the probe costs the service's event loop: a Prometheus scrape (registry.metrics())
// and a snapshot (probe.snapshot()), each after a gap of 0.1 s, 1 s and 10 s of samples. The wake-ups
// are recorded natively, off the event loop; a read takes the histogram recorded since the previous
// one, so its cost follows the histograms' size (their buckets), not the samples behind them: the
// columns should stay alike from gap to gap while the samples grow a hundredfold.
//
//   taskset -c 1 node bench/service/scrape.mjs [--period 50000] [--gaps 0.1,1,10] [--reads 8] [--dist dist]
//
// --dist: another build's dist/ (e.g. main's, to compare); needs root for the probe's SCHED_FIFO.
// Each read is timed on the event loop (wall time, the loop blocked: the reads are synchronous but
// for prom-client's awaits); the medians and maxima over --reads reads per gap are printed.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';

const root = path.resolve(import.meta.dirname, '../..');
const { values: flags } = parseArgs({
  options: {
    period: { type: 'string', default: '50000' },
    gaps: { type: 'string', default: '0.1,1,10' },
    reads: { type: 'string', default: '8' },
    dist: { type: 'string', default: path.join(root, 'dist') },
  },
});
const periodNs = Number(flags.period);
const gapsS = flags.gaps.split(',').map(Number);
const reads = Number(flags.reads);
const dist = path.resolve(flags.dist);
const { startProbe } = await import(path.join(dist, 'index.js'));
const { registerProbeMetrics } = await import(path.join(dist, 'prometheus.js'));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const probe = startProbe({ periodNs });
const registry = new Registry();
registerProbeMetrics(probe, { registry });
/** Wake-ups recorded so far: what the last read took in (a read within 5 ms of another takes nothing new). */
const wakeUps = () => probe.cumulative().threads[0].histogram.totalCount;

/** Wall time of `read` in us; the loop is blocked throughout (nothing else is scheduled meanwhile). */
async function timed(read) {
  const startNs = process.hrtime.bigint();
  await read();
  return Number(process.hrtime.bigint() - startNs) / 1e3;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ms = (us) => (us / 1e3).toFixed(2);
// Past the JIT's warm-up and the histograms' first resizes.
for (let i = 0; i < 20; i++) {
  await sleep(50);
  await registry.metrics();
  probe.snapshot();
}

const rows = [];
for (const gapS of gapsS) {
  const scrapes = [];
  const snapshots = [];
  const samples = [];
  let taken = wakeUps();
  for (let i = 0; i < reads; i++) {
    await sleep(gapS * 1e3);
    scrapes.push(await timed(() => registry.metrics()));
    samples.push(wakeUps() - taken);
    await sleep(gapS * 1e3);
    snapshots.push(await timed(() => probe.snapshot()));
    taken = wakeUps();
  }
  const { histogram } = probe.cumulative().threads[0];
  rows.push(
    `| ${gapS} s | ${median(samples)} | ${histogram.countsArrayLength} | ${ms(median(scrapes))} | ${ms(Math.max(...scrapes))} | ` +
      `${ms(median(snapshots))} | ${ms(Math.max(...snapshots))} |`,
  );
}
await probe.stop();

const lines = [
  `\`taskset -c 1 node bench/service/scrape.mjs --period ${periodNs} --gaps ${flags.gaps} --reads ${reads}\` (${dist === path.join(root, 'dist') ? 'this build' : dist}), ` +
    `${new Date().toISOString().slice(0, 10)}; load average (1 min) ${os.loadavg()[0].toFixed(2)} at the end. ` +
    `One probe at ${periodNs / 1e3}us with startProbe's defaults (the event loop watched too), its metrics registered; ${reads} scrapes and ${reads} snapshots per gap, alternating.`,
  '',
  '| gap before the read | wake-ups since the previous read (median) | histogram buckets (counts) | scrape (ms): median | max | snapshot (ms): median | max |',
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows,
  '',
];
process.stdout.write(lines.join('\n'));
