// A plain node:http service with rtlat's probe inside it: GET / is the service's own work, GET /metrics
// is for Prometheus (the service's metrics and rtlat's, in prom-client's global registry), and
// GET /latency shows one snapshot: how late the kernel woke a real-time thread, beside how late this
// process's event loop ran, since the previous request.
//
//   node examples/http-service.js            # PORT=8080 by default, on loopback
//   curl -s localhost:8080/metrics | grep rtlat_
//
// The probe runs at SCHED_FIFO where the process may (root, CAP_SYS_NICE or `ulimit -r`) and says it is
// degraded where it may not; it never keeps the process alive, and SIGTERM ends everything cleanly.
import http from 'node:http';
import { collectDefaultMetrics, register } from 'prom-client';
import { startProbe } from 'rtlat';
import { registerProbeMetrics } from 'rtlat/prometheus';

const port = Number(process.env.PORT ?? 8080);

collectDefaultMetrics();
const probe = startProbe();
registerProbeMetrics(probe);
if (probe.degraded.length > 0) console.error(`rtlat probe degraded: ${probe.degraded.join('; ')}`);

const us = (ns) => Math.round(ns / 1_000);

const server = http.createServer(async (request, response) => {
  if (request.url === '/metrics') {
    response.writeHead(200, { 'Content-Type': register.contentType });
    response.end(await register.metrics());
  } else if (request.url === '/latency') {
    const snapshot = probe.snapshot();
    const p99 = (summary) => us(summary.percentiles.find((p) => p.percentile === 99).valueNs);
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(
      `${JSON.stringify({
        since: snapshot.intervalStart,
        wakeupP99Us: snapshot.threads.map((thread) => ({ cpu: thread.cpu, policy: thread.policy, p99: p99(thread.interval), maxUs: us(thread.interval.maxNs) })),
        eventLoopP99Us: p99(snapshot.eventLoop.interval),
        degraded: snapshot.degraded,
      })}\n`,
    );
  } else {
    // The service's own work: a small JSON answer.
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify({ hello: 'world', at: Date.now() }));
  }
});

server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));

process.once('SIGTERM', async () => {
  server.close();
  server.closeIdleConnections();
  const last = await probe.stop();
  console.log(`probe stopped after ${last.threads[0].cumulative.count} wake-ups`);
});
