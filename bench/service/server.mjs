// The busy service of bench/service/run.mjs: a plain node:http server doing a little CPU work per
// request, with or without rtlat's probe inside it (`--probe`: startProbe() with its defaults and its
// metrics in a prom-client registry, scraped at /metrics). Either way it watches its own event-loop
// delay at 1 ms resolution, so that both arms are measured alike.
//
//   node bench/service/server.mjs [--probe [--no-event-loop]]      prints "port N" once listening on 127.0.0.1
//
// --no-event-loop: startProbe({ eventLoop: false }), the probe without its own event-loop monitor.
//
// GET /reset starts a measurement window; GET /stats ends it: event-loop delay percentiles (ns, the
// monitor's resolution subtracted), the process's CPU time in the window, and of it the probe's own
// threads': its measuring thread and the histogram thread that records its samples.
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Registry } from 'prom-client';

const root = path.resolve(import.meta.dirname, '../..');
const { startProbe } = await import(path.join(root, 'dist/index.js'));
const { registerProbeMetrics } = await import(path.join(root, 'dist/prometheus.js'));

const RESOLUTION_MS = 1;
const withProbe = process.argv.includes('--probe');
const registry = new Registry();
const probe = withProbe ? startProbe(process.argv.includes('--no-event-loop') ? { eventLoop: false } : {}) : null;
if (probe) registerProbeMetrics(probe, { registry });

const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
delay.enable();
const probeTid = probe?.snapshot().threads[0].tid;
const histogramTid = probe ? readdirSync('/proc/self/task').find((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'rtlat/hist') : undefined;
/** CPU time (us) of one of this process's threads, as the scheduler accounts it (schedstat, ns); 0 without it. */
function threadCpuUs(tid) {
  return tid === undefined ? 0 : Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e3;
}
const probeThreadsCpuUs = () => ({ measuring: threadCpuUs(probeTid), histogram: threadCpuUs(histogramTid) });

let windowCpu = process.cpuUsage();
let windowProbeCpuUs = probeThreadsCpuUs();
let windowStartNs = process.hrtime.bigint();

/** The service's own work: ~20 us of arithmetic and a small JSON answer. */
function work() {
  let x = 0;
  for (let i = 0; i < 20_000; i++) x = (x * 31 + i) | 0;
  return JSON.stringify({ x, items: Array.from({ length: 10 }, (_, id) => ({ id, name: `item ${id}` })) });
}

function stats() {
  const delayNs = (percentile) => Math.max(0, delay.percentile(percentile) - RESOLUTION_MS * 1e6);
  const cpu = process.cpuUsage(windowCpu);
  return {
    probe: probe && { cpus: probe.config.threads.map((plan) => plan.cpu), degraded: probe.degraded },
    eventLoopDelayNs: { p50: delayNs(50), p99: delayNs(99), p999: delayNs(99.9), max: Math.max(0, delay.max - RESOLUTION_MS * 1e6), samples: delay.count },
    cpuUs: cpu.user + cpu.system,
    probeThreadCpuUs: probeThreadsCpuUs().measuring - windowProbeCpuUs.measuring,
    histogramThreadCpuUs: probeThreadsCpuUs().histogram - windowProbeCpuUs.histogram,
    windowNs: Number(process.hrtime.bigint() - windowStartNs),
  };
}

const server = http.createServer(async (request, response) => {
  if (request.url === '/metrics') {
    response.writeHead(200, { 'Content-Type': registry.contentType });
    response.end(await registry.metrics());
  } else if (request.url === '/reset') {
    delay.reset();
    windowCpu = process.cpuUsage();
    windowProbeCpuUs = probeThreadsCpuUs();
    windowStartNs = process.hrtime.bigint();
    response.end();
  } else if (request.url === '/stats') {
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(stats()));
  } else {
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(work());
  }
});

server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${server.address().port}\n`));
process.once('SIGTERM', async () => {
  server.close();
  server.closeAllConnections();
  await probe?.stop();
});
