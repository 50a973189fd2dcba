// `rtlat serve`: a standing exporter, one per host or guest. It measures continuously and serves
// /metrics (Prometheus text format) and /snapshot (JSON); a Prometheus server scraping a whole fleet
// is how rtlat scales past one machine.
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { Command } from 'commander';
import type { Registry } from 'prom-client';
import { OptionError } from '../errors.js';
import { loadPromClient } from '../outputs/prom-client.js';
import type { IntervalLogOptions } from '../service/hdr-log-rotation.js';
import { startProbe, type ServiceProbe } from '../service/service-probe.js';
import { snapshotToJson } from '../service/snapshot.js';
import { DURATION_RULE, NS_PER_MS, parseDurationNs, parseInteger } from '../units.js';
import { usableCpus } from '../measurement/measure.js';
import { EXIT, reportError } from './exit.js';
import { addMeasureOptions, needs, parseMeasureFlags, type MeasureFlags } from './options.js';
import { onStopSignals } from './signals.js';
import { writeStdout } from './stdout.js';

/**
 * measure's options that shape the probe, and its HdrHistogram log; not its run length, other outputs,
 * spikes, breaktrace or load (serve runs until stopped).
 */
const SHARED_WITH_MEASURE = new Set([
  'period',
  'threads',
  'cpus',
  'mainCpus',
  'priority',
  'policy',
  'deadlineRuntime',
  'clock',
  'distance',
  'aligned',
  'mlock',
  'dmaLatency',
  'allowDegraded',
  'hdrLog',
  'hdrInterval',
]);

interface ServeFlags extends Omit<MeasureFlags, 'format'> {
  port: string;
  bind: string;
  hdrRotate?: string;
  hdrKeep?: string;
}

export const DEFAULT_PORT = 9464;

export function serveCommand(): Command {
  const command = new Command('serve')
    .description('Measure continuously and serve the results: /metrics for Prometheus, /snapshot as JSON.')
    .option('--port <port>', 'TCP port to listen on (0: any free port)', String(DEFAULT_PORT))
    .option('--bind <address>', 'IP address or host name to listen on; loopback unless told otherwise (0.0.0.0 or :: for every interface)', '127.0.0.1');
  return addMeasureOptions(command, (name) => SHARED_WITH_MEASURE.has(name))
    .option('--hdr-rotate <time>', 'start a new --hdr-log file every TIME (a bare number is h), each named after the log with its start time')
    .option('--hdr-keep <n>', 'with --hdr-rotate: keep only the newest N finished files')
    .action(async (flags: ServeFlags) => {
      process.exitCode = await serve(flags);
    });
}

/** The interval log's options, or undefined without --hdr-log; its interval as measure parsed it. */
function intervalLog(flags: ServeFlags, logPath: string | null, intervalNs: number | undefined): IntervalLogOptions | undefined {
  needs('hdr-rotate', flags.hdrRotate !== undefined, 'hdr-log', logPath !== null);
  needs('hdr-keep', flags.hdrKeep !== undefined, 'hdr-log', logPath !== null);
  if (logPath === null) return undefined;
  needs('hdr-keep', flags.hdrKeep !== undefined, 'hdr-rotate', flags.hdrRotate !== undefined);
  const intervalMs = intervalNs! / NS_PER_MS;
  const options: IntervalLogOptions = {
    path: logPath,
    intervalMs,
    // Once: the metric counts every failure, and the log tries again with each interval.
    onError: (error, failures) => {
      if (failures === 1) {
        process.stderr.write(`rtlat serve: ${error.message}; serving goes on, the log starts again with the next interval (rtlat_hdr_log_errors_total counts the failures)\n`);
      }
    },
  };
  if (flags.hdrRotate !== undefined) {
    const rotateNs = parseDurationNs('hdr-rotate', flags.hdrRotate, { ...DURATION_RULE, bareUnit: 'h', minNs: intervalNs! });
    options.rotateEveryMs = Math.round(rotateNs / NS_PER_MS);
  }
  if (flags.hdrKeep !== undefined) options.keepFiles = parseInteger('hdr-keep', flags.hdrKeep, 1, 1_000_000);
  return options;
}

/** An IP address, or a host name that resolves (to listen on its first address, as Node does). */
async function checkBind(text: string): Promise<string> {
  if (isIP(text) !== 0) return text;
  try {
    await lookup(text);
  } catch (error) {
    throw new OptionError('bind', text, `an IP address such as 127.0.0.1, ::1, 0.0.0.0 or ::, or a host name that resolves (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return text;
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function respond(probe: ServiceProbe, registry: Registry) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'Content-Type': type, ...headers });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(405, 'text/plain', 'GET or HEAD only\n', { Allow: 'GET, HEAD' });
    try {
      if (path === '/metrics') return send(200, registry.contentType, await registry.metrics());
      // The interval in each answer is the time since the previous /snapshot request.
      if (path === '/snapshot') return send(200, 'application/json', `${JSON.stringify(snapshotToJson(probe.snapshot()))}\n`);
      if (path === '/') return send(200, 'text/plain', 'rtlat serve: /metrics (Prometheus text format), /snapshot (JSON)\n');
      return send(404, 'text/plain', `not found: ${path}; try /metrics or /snapshot\n`);
    } catch (error) {
      return send(500, 'text/plain', `${(error as Error).message}\n`);
    }
  };
}

async function serve(flags: ServeFlags): Promise<number> {
  let probe: ServiceProbe | null = null;
  // Listening for the signals first: one that comes while starting up still ends in a clean stop.
  let stopListening = () => {};
  const signalled = new Promise<void>((resolve) => (stopListening = onStopSignals(resolve)));
  try {
    // prom-client is an optional peer dependency, loaded here so that every other command works without it.
    const { Registry } = await loadPromClient();
    const { registerProbeMetrics } = await import('../outputs/prometheus.js');
    const port = parseInteger('port', flags.port, 0, 65_535);
    const host = await checkBind(flags.bind);
    const { probe: options, outputs } = parseMeasureFlags({ ...flags, format: 'table' });
    const hdrLog = intervalLog(flags, outputs.hdrLogPath, options.intervalNs);
    // Like `rtlat measure`: every CPU this process may use unless told otherwise. The exporter's own event loop says nothing about the machine.
    const cpus = options.cpus ?? (options.threads === undefined ? usableCpus().allowed : undefined);
    probe = startProbe({ ...options, cpus, eventLoop: false, hdrLog });
    for (const refusal of probe.degraded) process.stderr.write(`rtlat: DEGRADED: not permitted: ${refusal}\n`);

    const registry = new Registry();
    registerProbeMetrics(probe, { registry });
    const server = createServer(respond(probe, registry));
    const address = await listen(server, port, host);
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    await writeStdout(`rtlat serve: serving http://${shown}:${address.port}/metrics and /snapshot\n`);

    await signalled;
    // Graceful: no new connections, idle keep-alive ones closed, requests in flight answered.
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await probe.stop();
    // The log's failures were said when they happened; the status says the log is not whole.
    return (probe.hdrLogFailures ?? 0) > 0 ? EXIT.failure : EXIT.ok;
  } catch (error) {
    return reportError('serve', error);
  } finally {
    stopListening();
    await probe?.stop();
  }
}
