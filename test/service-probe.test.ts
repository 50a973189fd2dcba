// startProbe(), the probe inside a Node service: snapshots that add up, production defaults, the
// event loop beside the wake-ups, workers, and a process that exits by itself. No latency value is
// asserted except a lower bound the test causes itself (a blocked event loop).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { newHistogram } from '../src/engine/histogram.js';
import { OptionError, startProbe, type ServiceSnapshot } from '../src/index.js';
import { usableCpus } from '../src/engine/system.js';
import { NS_PER_MS } from '../src/units.js';
import { scratchDir } from './helpers/cli.js';
import { nodeAsNobody, packageForNobody } from './helpers/package-copy.js';
import { settledCount, threadsGone, threadsWhere } from './helpers/threads.js';

const isRoot = process.getuid?.() === 0;
const distIndex = path.resolve(import.meta.dirname, '../dist/index.js');
const distPrometheus = path.resolve(import.meta.dirname, '../dist/prometheus.js');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs a module script in a child node (as root or as `nobody`, who imports the package's copy:
 * packageForNobody); the parent notes how long it took to exit.
 */
function runChild(script: string, options: { asNobody?: boolean; nodeFlags?: string[] } = {}) {
  const node = [...(options.nodeFlags ?? []), '--input-type=module', '-e', script];
  const nobody = options.asNobody ? nodeAsNobody(node) : null;
  const startedMs = Date.now();
  const child = nobody
    ? spawnSync(nobody.command, nobody.args, { ...nobody.options, encoding: 'utf8', timeout: 30_000 })
    : spawnSync(process.execPath, node, { encoding: 'utf8', timeout: 30_000 });
  return { ...child, elapsedMs: Date.now() - startedMs };
}

/** Runs a module script in a worker; resolves with its first message. */
function workerMessage<T>(worker: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

function moduleWorker(script: string): Worker {
  return new Worker(script, { eval: true, type: 'module' } as never);
}

/** Threads of this process running under a real-time priority (proc(5) stat field 40): running measuring threads, as root. */
function realtimeThreads(): number {
  return threadsWhere((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[40 - 3]) > 0;
  });
}

function expectIntervalsAddUp(snapshots: ServiceSnapshot[]): void {
  const last = snapshots.at(-1)!;
  last.threads.forEach((thread, index) => {
    const merged = newHistogram();
    for (const snapshot of snapshots) merged.add(snapshot.threads[index]!.intervalHistogram);
    expect(merged.totalCount).toBe(thread.cumulative.count);
    expect(merged.totalCount).toBe(thread.cumulativeHistogram.totalCount);
    expect(snapshots.reduce((sum, snapshot) => sum + snapshot.threads[index]!.interval.count, 0)).toBe(thread.cumulative.count);
    for (const percentile of [0, 50, 99, 100]) {
      expect(merged.getValueAtPercentile(percentile)).toBe(thread.cumulativeHistogram.getValueAtPercentile(percentile));
    }
  });
  if (last.eventLoop) {
    expect(snapshots.reduce((sum, snapshot) => sum + snapshot.eventLoop!.interval.count, 0)).toBe(last.eventLoop.cumulative.count);
  }
  // Each interval starts where the previous one ended.
  snapshots.slice(1).forEach((snapshot, index) => expect(snapshot.intervalStart).toEqual(snapshots[index]!.at));
}

describe.skipIf(!isRoot)('startProbe with real-time privileges (needs root: run the tests as root, as CI does)', () => {
  it('uses production defaults: one SCHED_FIFO thread on the last CPU of the affinity mask, 1 ms, memory locked, no DMA-latency request', async () => {
    const probe = startProbe();
    const { config } = probe;
    expect(config.periodNs).toBe(NS_PER_MS);
    expect(config.threads.map((plan) => plan.cpu)).toEqual([usableCpus().allowed.at(-1)]);
    expect(config.policy).toBe('fifo');
    expect(config.dmaLatency).toBe(false);
    expect(config.lockMemory).toBe(true);
    expect(config.allowDegraded).toBe(true);
    expect(config.keepProcessAlive).toBe(false);
    expect(probe.degraded).toEqual([]);
    const last = await probe.stop();
    expect(last.threads[0]!.policy).toBe('fifo');
    expect(last.threads[0]!.tid).toBeGreaterThan(process.pid);
    expect(last.degraded).toEqual([]);
  });

  it('gives intervals that add up to the cumulative histogram, wake-ups and event loop alike', async () => {
    const probe = startProbe({ periodNs: 200_000, cpus: [0, 1] });
    const snapshots: ServiceSnapshot[] = [];
    for (let i = 0; i < 5; i++) {
      await sleep(60);
      snapshots.push(probe.snapshot());
    }
    // cumulative() reads without taking anything from the snapshot interval.
    const cumulativeCount = probe.cumulative().threads[0]!.histogram.totalCount;
    snapshots.push(await probe.stop());
    expect(snapshots.at(-1)!.threads[0]!.cumulative.count).toBeGreaterThanOrEqual(cumulativeCount);
    expect(snapshots.at(-1)!.threads.map((thread) => thread.cpu)).toEqual([0, 1]);
    expect(snapshots.at(-1)!.threads[0]!.cumulative.count).toBeGreaterThan(500);
    expectIntervalsAddUp(snapshots);
    // Once stopped, nothing more arrives.
    expect(probe.snapshot().threads[0]!.interval.count).toBe(0);
    expect(probe.running).toBe(false);
  });

  it('loses nothing at stop: the last interval holds every sample since the previous snapshot', async () => {
    const probe = startProbe({ periodNs: 200_000 });
    await sleep(100);
    const last = await probe.stop();
    expect(last.threads[0]!.cumulative.count).toBeGreaterThan(100);
    expect(last.threads[0]!.interval.count).toBe(last.threads[0]!.cumulative.count);
  });

  it('hands over histograms that later recording does not change', async () => {
    const probe = startProbe({ periodNs: 200_000 });
    await sleep(50);
    const first = probe.snapshot();
    const counts = [first.threads[0]!.intervalHistogram.totalCount, first.threads[0]!.cumulativeHistogram.totalCount];
    await sleep(50);
    await probe.stop();
    expect([first.threads[0]!.intervalHistogram.totalCount, first.threads[0]!.cumulativeHistogram.totalCount]).toEqual(counts);
  });

  it("sees the event loop's delay, with the monitor's resolution subtracted", async () => {
    const probe = startProbe({ eventLoop: { resolutionMs: 10 } });
    await sleep(50);
    // Block the loop for 60 ms: the monitor's timer, due every 10 ms, runs at least 50 ms late.
    const until = Date.now() + 60;
    while (Date.now() < until);
    await sleep(30);
    const last = await probe.stop();
    expect(last.eventLoop!.resolutionNs).toBe(10 * NS_PER_MS);
    expect(last.eventLoop!.cumulative.maxNs).toBeGreaterThanOrEqual(40 * NS_PER_MS);
  });

  it('leaves the event loop alone with eventLoop: false', async () => {
    const probe = startProbe({ eventLoop: false });
    expect(probe.eventLoopResolutionNs).toBeNull();
    expect((await probe.stop()).eventLoop).toBeNull();
  });

  it('works in a worker thread: start, snapshot, stop', async () => {
    const worker = moduleWorker(
      `import { startProbe } from ${JSON.stringify(distIndex)};
       import { parentPort } from 'node:worker_threads';
       const probe = startProbe({ periodNs: 500000 });
       await new Promise((resolve) => setTimeout(resolve, 100));
       const first = probe.snapshot();
       const last = await probe.stop();
       parentPort.postMessage({
         intervals: first.threads[0].interval.count + last.threads[0].interval.count,
         cumulative: last.threads[0].cumulative.count,
         eventLoop: last.eventLoop.cumulative.count,
         tid: last.threads[0].tid,
       });`,
    );
    const outcome = await workerMessage<{ intervals: number; cumulative: number; eventLoop: number; tid: number }>(worker);
    expect(outcome.cumulative).toBeGreaterThan(0);
    expect(outcome.intervals).toBe(outcome.cumulative);
    expect(outcome.eventLoop).toBeGreaterThan(0);
    expect(await threadsGone([outcome.tid])).toBe(true);
    expect(await new Promise((resolve) => worker.once('exit', resolve))).toBe(0);
  });

  it('ends its thread when the worker ends by itself or is terminated, and never keeps a worker alive', async () => {
    const script = (keepBusy: boolean) =>
      `import { startProbe } from ${JSON.stringify(distIndex)};
       import { parentPort } from 'node:worker_threads';
       const probe = startProbe({ periodNs: 1000000 });
       ${keepBusy ? 'setInterval(() => {}, 1000);' : ''}
       parentPort.postMessage(probe.snapshot().threads[0].tid);`;

    const ending = moduleWorker(script(false));
    const ended = new Promise((resolve) => ending.once('exit', resolve));
    const endingTid = await workerMessage<number>(ending);
    expect(await ended).toBe(0);
    expect(await threadsGone([endingTid])).toBe(true);

    const busy = moduleWorker(script(true));
    const busyTid = await workerMessage<number>(busy);
    expect(existsSync(`/proc/self/task/${busyTid}`)).toBe(true);
    await busy.terminate();
    expect(await threadsGone([busyTid])).toBe(true);
  });

  it('lets the process exit by itself with a probe running, its metrics registered and its log open; the log still appears', () => {
    const log = path.join(scratchDir(), 'exit.hlog');
    const child = runChild(
      `import { startProbe } from ${JSON.stringify(distIndex)};
       import { registerProbeMetrics } from ${JSON.stringify(distPrometheus)};
       import { Registry } from 'prom-client';
       const probe = startProbe({ hdrLog: { path: ${JSON.stringify(log)}, intervalMs: 50 } });
       const registry = new Registry();
       registerProbeMetrics(probe, { registry });
       await new Promise((resolve) => setTimeout(resolve, 200));
       await registry.metrics();
       console.log(probe.running ? 'running' : 'stopped');`,
    );
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('running');
    expect(child.status).toBe(0);
    expect(child.elapsedMs).toBeLessThan(10_000);
    // The 'exit' listener wrote the last interval and made the file appear.
    expect(readFileSync(log, 'utf8')).toMatch(/^Tag=cpu\d+,/m);
  });

  it('lets the process exit by itself once the probe is stopped', () => {
    const child = runChild(
      `import { startProbe } from ${JSON.stringify(distIndex)};
       const probe = startProbe();
       await new Promise((resolve) => setTimeout(resolve, 100));
       const last = await probe.stop();
       console.log(last.threads[0].cumulative.count > 0 ? 'measured' : 'empty');`,
    );
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('measured');
    expect(child.status).toBe(0);
  });

  it('stops cleanly when the process calls process.exit() while it records: that exit code, nothing on stderr, the log whole', () => {
    const log = path.join(scratchDir(), 'exit-call.hlog');
    const child = runChild(
      `import { startProbe } from ${JSON.stringify(distIndex)};
       const probe = startProbe({ periodNs: 100000, hdrLog: { path: ${JSON.stringify(log)}, intervalMs: 50 } });
       setInterval(() => probe.snapshot(), 10);
       setTimeout(() => {
         console.log(probe.snapshot().threads[0].cumulative.count > 0 ? 'measured' : 'empty');
         process.exit(3);
       }, 300);`,
    );
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('measured');
    expect(child.signal).toBeNull();
    expect(child.status).toBe(3);
    expect(readFileSync(log, 'utf8')).toMatch(/^Tag=cpu\d+,/m);
  });

  it('keeps its memory flat: histograms, not samples, however many snapshots and scrapes', () => {
    const child = runChild(
      `import { startProbe } from ${JSON.stringify(distIndex)};
       import { registerProbeMetrics } from ${JSON.stringify(distPrometheus)};
       import { Registry } from 'prom-client';
       const probe = startProbe({ periodNs: 50000 });
       const registry = new Registry();
       registerProbeMetrics(probe, { registry });
       const exercise = async (ms) => {
         for (const until = Date.now() + ms; Date.now() < until; ) {
           probe.snapshot();
           await registry.metrics();
           await new Promise((resolve) => setTimeout(resolve, 10));
         }
       };
       const heapKb = () => { globalThis.gc(); return process.memoryUsage().heapUsed / 1024; };
       const countNow = () => probe.cumulative().threads[0].histogram.totalCount;
       await exercise(2000); // past the JIT's warm-up and the histograms' first resizes
       const before = { heapKb: heapKb(), count: countNow() };
       await exercise(2000);
       const after = { heapKb: heapKb(), count: countNow() };
       await probe.stop();
       console.log(JSON.stringify({ grownKb: after.heapKb - before.heapKb, samples: after.count - before.count }));`,
      { nodeFlags: ['--expose-gc'] },
    );
    expect(child.stderr).toBe('');
    const { grownKb, samples } = JSON.parse(child.stdout) as { grownKb: number; samples: number };
    // Kept as doubles, the samples of those 2 s would take 8 bytes each; the heap grew by far less.
    expect(samples).toBeGreaterThan(10_000);
    expect(grownKb * 1024).toBeLessThan((samples * 8) / 2);
  });
});

describe('startProbe without privileges (needs root to drop them: run the tests as root, as CI does)', () => {
  it.skipIf(!isRoot)('measures degraded where SCHED_FIFO is refused, and says so', () => {
    const child = runChild(
      `import { startProbe } from ${JSON.stringify(packageForNobody().distIndex)};
       const probe = startProbe({ periodNs: 1000000 });
       await new Promise((resolve) => setTimeout(resolve, 100));
       const last = await probe.stop();
       console.log(JSON.stringify({ degraded: probe.degraded, policy: last.threads[0].policy, count: last.threads[0].cumulative.count }));`,
      { asNobody: true },
    );
    expect(child.stderr).toBe('');
    const outcome = JSON.parse(child.stdout) as { degraded: string[]; policy: string; count: number };
    expect(outcome.degraded.some((refusal) => refusal.startsWith('SCHED_FIFO'))).toBe(true);
    expect(outcome.policy).toBe('other');
    expect(outcome.count).toBeGreaterThan(0);
  });
});

describe('startProbe options', () => {
  const cases: [string, Parameters<typeof startProbe>[0], RegExp][] = [
    ['event-loop resolution of 0', { eventLoop: { resolutionMs: 0 } }, /^eventLoop.resolutionMs: got 0, expected a whole number of ms from 1 to 1000$/],
    ['log interval below 10 ms', { hdrLog: { path: 'x.hlog', intervalMs: 5 } }, /^hdrLog.intervalMs: got 5, expected a whole number from 10/],
    ['rotation shorter than an interval', { hdrLog: { path: 'x.hlog', intervalMs: 5_000, rotateEveryMs: 1_000 } }, /^hdrLog.rotateEveryMs: got 1000, expected a whole number from 5000/],
    ['tiny rotation size', { hdrLog: { path: 'x.hlog', rotateBytes: 100 } }, /^hdrLog.rotateBytes: got 100, expected a whole number from 4096/],
    ['files kept without rotation', { hdrLog: { path: 'x.hlog', keepFiles: 3 } }, /^hdrLog.keepFiles: got 3, expected rotation as well/],
    ['a bad period', { periodNs: 0 }, /^period: got 0/],
  ];
  for (const [name, options, message] of cases) {
    it(`refuses ${name} before starting anything`, () => {
      const before = realtimeThreads();
      let thrown: unknown;
      try {
        startProbe(options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(OptionError);
      expect((thrown as Error).message).toMatch(message);
      expect(realtimeThreads()).toBe(before);
    });
  }

  it('fails at once on a log path it cannot write, before any thread starts', () => {
    const before = realtimeThreads();
    expect(() => startProbe({ hdrLog: { path: path.join(scratchDir(), 'missing', 'x.hlog') } })).toThrow(/ENOENT/);
    expect(realtimeThreads()).toBe(before);
  });

  it.skipIf(!isRoot)('sees a running probe as a real-time thread (the check above means something; needs root)', async () => {
    const before = realtimeThreads();
    const probe = startProbe();
    expect(realtimeThreads()).toBe(before + 1);
    await probe.stop();
    expect(await settledCount(realtimeThreads, before)).toBe(before);
  });
});
