// `rtlat serve` as a process: bad options, /metrics and /snapshot parsed back, graceful SIGTERM, and a
// real Prometheus server scraping it. Every process a test starts is killed after it, pass or fail.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as hdr from 'hdr-histogram-js';
import { decodeHistogram, newHistogram, type Histogram } from '../src/engine/histogram.js';
import { LATENCY_BUCKETS_NS, METRIC_NAMES } from '../src/outputs/prometheus.js';
import type { ServiceSnapshotJson } from '../src/service/snapshot.js';
import { usableCpus } from '../src/engine/system.js';
import { NS_PER_S } from '../src/units.js';
import { rtlat, RTLAT_BIN, scratchDir } from './helpers/cli.js';
import { parseExposition, samplesOf } from './helpers/prometheus-text.js';
import { commandRuns, itWithTool, requireTool } from './helpers/tools.js';
import { nodeAsNobody, packageForNobody } from './helpers/package-copy.js';

const isRoot = process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const BOUNDS = LATENCY_BUCKETS_NS.map((ns) => String(ns / NS_PER_S));
const prometheus = requireTool('prometheus', commandRuns('prometheus', ['--version']), 'apt-get install --no-install-recommends prometheus');

const started = new Set<ChildProcess>();
afterEach(() => {
  for (const child of started) child.kill('SIGKILL');
  started.clear();
});

function track(child: ChildProcess): ChildProcess {
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

interface Served {
  child: ChildProcess;
  /** e.g. http://127.0.0.1:40123 */
  base: string;
  port: number;
  stderr: () => string;
  /** Sends SIGTERM; resolves with the exit code and how long the exit took. */
  terminate: () => Promise<{ status: number | null; ms: number }>;
}

/** Starts `rtlat serve --port 0 ...args` (as `nobody` when asked, from the package's copy: packageForNobody) and resolves once it is serving. */
function serve(args: string[], options: { asNobody?: boolean } = {}): Promise<Served> {
  const serveArgs = ['serve', '--port', '0', ...args];
  const nobody = options.asNobody ? nodeAsNobody([packageForNobody().bin, ...serveArgs]) : null;
  const child = track(nobody ? spawn(nobody.command, nobody.args, nobody.options) : spawn(process.execPath, [RTLAT_BIN, ...serveArgs]));
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (status) => resolve(status)));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /serving (http:\/\/[^/]+:(\d+))\/metrics/.exec(stdout);
      if (!match) return;
      resolve({
        child,
        base: match[1]!,
        port: Number(match[2]),
        stderr: () => stderr,
        terminate: async () => {
          const sentMs = Date.now();
          child.kill('SIGTERM');
          const status = await exited;
          return { status, ms: Date.now() - sentMs };
        },
      });
    });
    void exited.then((status) => reject(new Error(`rtlat serve exited (${status}) before serving: ${stderr}`)));
  });
}

/** An HdrHistogram interval log's intervals, merged per tag. */
function readLogFile(file: string): Map<string, Histogram> {
  const reader = new hdr.HistogramLogReader(readFileSync(file, 'utf8'));
  const totals = new Map<string, Histogram>();
  for (let interval = reader.nextIntervalHistogram(); interval; interval = reader.nextIntervalHistogram()) {
    if (!totals.has(interval.tag)) totals.set(interval.tag, newHistogram());
    totals.get(interval.tag)!.add(interval);
  }
  return totals;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

describe('rtlat serve: bad input is one line on stderr and exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['port above 65535', ['--port', '70000'], /--port: got "70000", expected a whole number from 0 to 65535/],
    ['port not a number', ['--port', 'http'], /--port: got "http", expected a whole number/],
    ['bind a host name that does not resolve', ['--bind', 'no-such-host.invalid'], /--bind: got "no-such-host.invalid", expected an IP address .*, or a host name that resolves \([A-Z_]+\)/],
    ['bad period', ['--period', '0'], /--period: got "0", expected a duration/],
    ['bad CPU list', ['--cpus', '1-'], /--cpus: got "1-", expected a CPU list/],
    ['an output option of measure', ['--json', 'x.json'], /unknown option '--json' \(see rtlat serve --help\)/],
    ['a run length', ['--duration', '10s'], /unknown option '--duration'/],
    ['log rotation without a log', ['--hdr-rotate', '1h'], /--hdr-rotate needs --hdr-log/],
    ['keeping files without rotation', ['--hdr-log', 'latency.hlog', '--hdr-keep', '3'], /--hdr-keep needs --hdr-rotate/],
    ['rotating more often than the interval', ['--hdr-log', 'latency.hlog', '--hdr-interval', '5s', '--hdr-rotate', '2s'], /--hdr-rotate: got "2s", expected a duration .* from 5s/],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const outcome = rtlat(['serve', ...args]);
      expect(outcome.status).toBe(2);
      const lines = outcome.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^rtlat serve: /);
      expect(lines[0]).toMatch(message);
      expect(outcome.stdout).toBe('');
    });
  }

  it('lists the measuring options of rtlat measure and its HdrHistogram log in its help, and not its other outputs', () => {
    const help = rtlat(['serve', '--help']).stdout;
    for (const option of ['--port', '--bind', '--period', '--cpus', '--policy', '--allow-degraded', '--no-dma-latency', '--hdr-log', '--hdr-interval', '--hdr-rotate', '--hdr-keep']) {
      expect(help).toContain(option);
    }
    for (const option of ['--json', '--report', '--duration', '--breaktrace']) expect(help).not.toContain(option);
  });
});

describe.skipIf(!isRoot)('rtlat serve with real-time privileges (needs root: run the tests as root, as CI does)', () => {
  it('serves /metrics and /snapshot on loopback, measuring every CPU by default, and ends gracefully on SIGTERM', async () => {
    const served = await serve([]);
    expect(served.base).toBe(`http://127.0.0.1:${served.port}`);
    await sleep(300);

    const metrics = await fetch(`${served.base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const exposition = parseExposition(await metrics.text());
    const cpus = usableCpus().allowed.map(String);
    for (const cpu of cpus) {
      const buckets = samplesOf(exposition, `${METRIC_NAMES.wakeupLatency}_bucket`, { cpu, policy: 'fifo' });
      expect(buckets.map((bucket) => bucket.labels.le)).toEqual([...BOUNDS, '+Inf']);
      expect(buckets.at(-1)!.value).toBeGreaterThan(0);
    }
    // The exporter's own event loop says nothing about the machine: not exported.
    expect(exposition.types.has(METRIC_NAMES.eventLoopDelay)).toBe(false);
    expect(samplesOf(exposition, METRIC_NAMES.degraded)[0]!.value).toBe(0);

    const first = (await (await fetch(`${served.base}/snapshot`)).json()) as ServiceSnapshotJson;
    // Samples reach the histograms at the histogram thread's passes, every 100 ms: room for two.
    await sleep(300);
    const response = await fetch(`${served.base}/snapshot`);
    expect(response.headers.get('content-type')).toBe('application/json');
    const second = (await response.json()) as ServiceSnapshotJson;
    expect(second.intervalStart).toBe(first.at);
    expect(second.eventLoop).toBeNull();
    expect(second.threads.map((thread) => String(thread.cpu))).toEqual(cpus);
    for (const thread of second.threads) {
      expect(thread.interval.count).toBeGreaterThan(0);
      expect(decodeHistogram(thread.intervalHistogram).totalCount).toBe(thread.interval.count);
      expect(decodeHistogram(thread.cumulativeHistogram).totalCount).toBe(thread.cumulative.count);
    }

    expect((await fetch(`${served.base}/nothing-here`)).status).toBe(404);
    const post = await fetch(`${served.base}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');

    const { status, ms } = await served.terminate();
    expect(status).toBe(0);
    expect(ms).toBeLessThan(5_000);
    expect(served.stderr()).toBe('');
  });

  it('listens on a host name: --bind localhost serves on loopback', async () => {
    const served = await serve(['--bind', 'localhost', '--cpus', '0']);
    expect(served.base).toMatch(/^http:\/\/(127\.0\.0\.1|\[::1\]):\d+$/);
    expect((await fetch(`${served.base}/metrics`)).status).toBe(200);
    expect((await served.terminate()).status).toBe(0);
  });

  it("records on startProbe's path: one histogram thread beside the measuring threads, and /snapshot intervals that add up to the cumulative", async () => {
    const served = await serve(['--period', '200us']);
    const tasks = `/proc/${served.child.pid}/task`;
    const names = () =>
      readdirSync(tasks).map((tid) => {
        try {
          return readFileSync(`${tasks}/${tid}/comm`, 'utf8').trim();
        } catch {
          return ''; // ended while being read
        }
      });
    expect(names().filter((name) => name === 'rtlat/hist')).toHaveLength(1);
    expect(names().filter((name) => /^rtlat\/\d+$/.test(name))).toHaveLength(usableCpus().allowed.length);
    const snapshots: ServiceSnapshotJson[] = [];
    for (let read = 0; read < 3; read++) {
      await sleep(100);
      snapshots.push((await (await fetch(`${served.base}/snapshot`)).json()) as ServiceSnapshotJson);
    }
    snapshots.at(-1)!.threads.forEach((thread, index) => {
      expect(thread.cumulative.count).toBeGreaterThan(0);
      expect(snapshots.reduce((sum, snapshot) => sum + snapshot.threads[index]!.interval.count, 0)).toBe(thread.cumulative.count);
    });
    expect((await served.terminate()).status).toBe(0);
    expect(served.stderr()).toBe('');
  });

  it('writes an HdrHistogram interval log that appears whole on SIGTERM, with every sample /snapshot had seen', async () => {
    const dir = scratchDir();
    const log = path.join(dir, 'latency.hlog');
    const served = await serve(['--cpus', '1', '--period', '500us', '--hdr-log', log, '--hdr-interval', '100ms']);
    await sleep(400);
    expect(existsSync(log)).toBe(false);
    const seen = (await (await fetch(`${served.base}/snapshot`)).json()) as ServiceSnapshotJson;
    expect((await served.terminate()).status).toBe(0);
    const logged = readLogFile(log);
    // One tag per CPU, and the untagged lines (HdrHistogram's readers call them NO TAG): all CPUs together.
    expect([...logged.keys()].sort()).toEqual(['NO TAG', 'cpu1']);
    expect(logged.get('cpu1')!.totalCount).toBeGreaterThanOrEqual(seen.threads[0]!.cumulative.count);
    expect(logged.get('NO TAG')!.totalCount).toBe(logged.get('cpu1')!.totalCount);
    expect(readdirSync(dir)).toEqual(['latency.hlog']);
  });

  it('rotates the log by age and keeps only the newest files when asked', async () => {
    const dir = scratchDir();
    const cpus = usableCpus().allowed;
    const served = await serve(['--period', '1ms', '--hdr-log', path.join(dir, 'latency.hlog'), '--hdr-interval', '100ms', '--hdr-rotate', '1s', '--hdr-keep', '2']);
    // Long enough for at least three files: the third starts at 2 s.
    await sleep(2_600);
    expect((await served.terminate()).status).toBe(0);
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    for (const file of files) {
      expect(file).toMatch(/^latency\.\d{8}T\d{6}\.\d{3}Z\.hlog$/);
      const logged = readLogFile(path.join(dir, file));
      expect([...logged.keys()].sort()).toEqual(['NO TAG', ...cpus.map((cpu) => `cpu${cpu}`)].sort());
      for (const histogram of logged.values()) expect(histogram.totalCount).toBeGreaterThan(0);
      const perCpu = cpus.reduce((total, cpu) => total + logged.get(`cpu${cpu}`)!.totalCount, 0);
      expect(logged.get('NO TAG')!.totalCount).toBe(perCpu);
    }
  });

  it('says in one line, exit 1, when its port is taken', async () => {
    const served = await serve(['--cpus', '1']);
    const outcome = rtlat(['serve', '--cpus', '1', '--port', String(served.port)]);
    expect(outcome.status).toBe(1);
    expect(outcome.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(outcome.stderr).toMatch(/^rtlat serve: listen EADDRINUSE.*127\.0\.0\.1:\d+/);
    expect((await served.terminate()).status).toBe(0);
  });

  it('refuses to run without privileges unless allowed to degrade, and then says so in its metrics', async () => {
    const nobody = nodeAsNobody([packageForNobody().bin, 'serve', '--port', '0']);
    const refused = spawn(nobody.command, nobody.args, nobody.options);
    track(refused);
    let stderr = '';
    refused.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const status = await new Promise((resolve) => refused.once('exit', resolve));
    expect(status).toBe(3);
    expect(stderr).toMatch(/^rtlat: not permitted: SCHED_FIFO priority 99 \(EPERM\)/);

    const served = await serve(['--cpus', '1', '--allow-degraded', '--no-dma-latency', '--no-mlock'], { asNobody: true });
    expect(served.stderr()).toMatch(/rtlat: DEGRADED: not permitted: SCHED_FIFO/);
    const exposition = parseExposition(await (await fetch(`${served.base}/metrics`)).text());
    expect(samplesOf(exposition, METRIC_NAMES.degraded)[0]!.value).toBe(1);
    expect(samplesOf(exposition, `${METRIC_NAMES.wakeupLatency}_count`, { cpu: '1', policy: 'other' })).toHaveLength(1);
    expect((await served.terminate()).status).toBe(0);
  });

  itWithTool(
    prometheus,
    'is scraped by a real Prometheus server: its query API returns rtlat_wakeup_latency_seconds_bucket series',
    async () => {
      const served = await serve(['--cpus', '1', '--period', '500us']);
      const dir = scratchDir();
      const config = path.join(dir, 'prometheus.yml');
      writeFileSync(
        config,
        [
          'global:',
          '  scrape_interval: 1s',
          '  evaluation_interval: 1s',
          'scrape_configs:',
          '  - job_name: rtlat',
          '    static_configs:',
          `      - targets: ['127.0.0.1:${served.port}']`,
          '',
        ].join('\n'),
      );
      const webPort = await freePort();
      const server = track(
        spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`], {
          stdio: 'ignore',
        }),
      );
      try {
        const query = async (expression: string) => {
          const response = await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=${encodeURIComponent(expression)}`);
          const body = (await response.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
          expect(body.status).toBe('success');
          return body.data.result;
        };
        let series: Awaited<ReturnType<typeof query>> = [];
        for (const deadline = Date.now() + 45_000; series.length === 0 && Date.now() < deadline; await sleep(500)) {
          series = await query('rtlat_wakeup_latency_seconds_bucket').catch(() => []);
        }
        expect(series.map((one) => one.metric.le).sort()).toEqual([...BOUNDS, '+Inf'].sort());
        for (const one of series) expect(one.metric).toMatchObject({ __name__: 'rtlat_wakeup_latency_seconds_bucket', job: 'rtlat', cpu: '1', policy: 'fifo' });
        expect((await query('up{job="rtlat"}'))[0]!.value[1]).toBe('1');
        // The environment rode along as labels.
        expect((await query('rtlat_environment_info'))[0]!.metric).toHaveProperty('role');
      } finally {
        server.kill('SIGKILL');
        await served.terminate();
      }
    },
    90_000,
  );
});
