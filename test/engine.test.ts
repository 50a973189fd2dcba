// The measuring engine, run for real: short runs, and never an assertion on a latency value.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { OptionError, Probe, PrivilegeError, type ProbeHooks, type ProbeOptions, type Spike } from '../src/index.js';
import { stallOnceForTest } from '../src/engine/probe.js';
import { nodeAsNobody, packageForNobody } from './helpers/package-copy.js';
import { threadsGone } from './helpers/threads.js';

function startProbe(options: ProbeOptions, hooks: ProbeHooks = {}): Probe {
  return new Probe(options, hooks).start();
}

const root = path.resolve(import.meta.dirname, '..');
const distIndex = path.join(root, 'dist/index.js');
const isRoot = process.getuid?.() === 0;

function lockedKb(): number {
  const match = /^VmLck:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(match?.[1] ?? 0);
}

/** Runs a module script in a child node, as root or as `nobody` (who imports the package's copy: packageForNobody). */
function runChild(script: string, options: { asNobody?: boolean; nodeFlags?: string[] } = {}) {
  const node = [...(options.nodeFlags ?? []), '--input-type=module', '-e', script];
  if (options.asNobody) {
    const nobody = nodeAsNobody(node);
    return spawnSync(nobody.command, nobody.args, { ...nobody.options, encoding: 'utf8', timeout: 20_000 });
  }
  return spawnSync(process.execPath, node, { encoding: 'utf8', timeout: 20_000 });
}

describe.skipIf(!isRoot)('the engine with real-time privileges (needs root: run the tests as root, as CI does)', () => {
  it('takes exactly the requested number of wake-ups, none of them early', async () => {
    const probe = startProbe({ periodNs: 200_000, loops: 1_000, cpus: [0, 1], keepProcessAlive: true });
    await probe.finished;
    const result = await probe.stop();
    expect(result.stoppedBy).toBe('completed');
    expect(result.threads).toHaveLength(2);
    for (const thread of result.threads) {
      expect(thread.count).toBe(1_000);
      expect(thread.histogramCount + thread.dropped).toBe(1_000);
      expect(thread.minNs).toBeGreaterThanOrEqual(0);
      expect(thread.maxNs).toBeGreaterThanOrEqual(thread.minNs);
    }
    expect(result.all.count).toBe(2_000);
  });

  it('with loopsEndAll, ends every thread once the first has its loops: the others take at most one wake-up more', async () => {
    // Thread 1 wakes every 700us, thread 0 every 200us: thread 0 reaches 200 wake-ups first.
    const options: ProbeOptions = { periodNs: 200_000, distanceNs: 500_000, loops: 200, cpus: [0, 1], spikeThresholdNs: 0, keepProcessAlive: true };
    const samples: Spike[] = [];
    const probe = startProbe({ ...options, loopsEndAll: true }, { onSpike: (spike) => samples.push(spike) });
    await probe.finished;
    const result = await probe.stop();
    expect(result.stoppedBy).toBe('completed');
    expect(result.config.loopsEndAll).toBe(true);
    const [first, second] = result.threads;
    expect(first!.count).toBe(200);
    expect(second!.count).toBeGreaterThan(0);
    expect(second!.count).toBeLessThan(200);
    // Every sample is a spike above 0 ns; the session's clock is common to both threads.
    const firstEndedNs = Math.max(...samples.filter((spike) => spike.thread === 0).map((spike) => spike.dueNs + spike.latencyNs));
    expect(samples.filter((spike) => spike.thread === 1 && spike.dueNs > firstEndedNs).length).toBeLessThanOrEqual(1);
    // Without it, each thread takes its own loops.
    const own = startProbe(options);
    await own.finished;
    const ownResult = await own.stop();
    expect(ownResult.config.loopsEndAll).toBe(false);
    expect(ownResult.threads.map((thread) => thread.count)).toEqual([200, 200]);
  });

  it('covers the duration: wake-ups plus skipped periods make duration / period', async () => {
    const periodNs = 1_000_000;
    const durationNs = 300_000_000;
    const probe = startProbe({ periodNs, durationNs, cpus: [1], keepProcessAlive: true });
    await probe.finished;
    const [thread] = (await probe.stop()).threads;
    const periods = thread!.count + thread!.overruns;
    expect(periods).toBeGreaterThanOrEqual(durationNs / periodNs - 1);
    expect(periods).toBeLessThanOrEqual(durationNs / periodNs + 1);
  });

  it('names each measuring thread rtlat/N, as top, ps -L and ftrace show it', async () => {
    const probe = startProbe({ cpus: [0, 1], threads: 3, periodNs: 1_000_000, keepProcessAlive: true });
    try {
      const names = probe.setup.threads.map((thread) => readFileSync(`/proc/self/task/${thread.tid}/comm`, 'utf8').trim());
      expect(names).toEqual(['rtlat/0', 'rtlat/1', 'rtlat/2']);
    } finally {
      await probe.stop();
    }
  });

  it('applies fifo, rr, other and deadline as the kernel reads them back', async () => {
    const requests = [
      { policy: 'fifo', priority: 99, cpu: 0 },
      { policy: 'rr', priority: 42, cpu: 1 },
      { policy: 'other', priority: 0, cpu: 1 },
    ] as const;
    for (const { policy, priority, cpu } of requests) {
      const probe = startProbe({ policy, priority, cpus: [cpu], periodNs: 500_000, loops: 50, keepProcessAlive: true });
      const [report] = probe.setup.threads;
      expect(report!.applied.policy).toBe(policy);
      expect(report!.applied.priority).toBe(priority);
      expect(report!.applied.cpus).toEqual([cpu]);
      if (policy === 'other') expect(report!.applied.timerSlackNs).toBe(1);
      expect(report!.tid).toBeGreaterThan(process.pid);
      await probe.stop();
    }
    const deadline = startProbe({ policy: 'deadline', periodNs: 1_000_000, deadlineRuntimeNs: 100_000, threads: 1, loops: 50, keepProcessAlive: true });
    const [report] = deadline.setup.threads;
    expect(report!.applied).toMatchObject({ policy: 'deadline', runtimeNs: 100_000, deadlineNs: 1_000_000, periodNs: 1_000_000 });
    const result = await deadline.stop();
    expect(result.threads[0]!.cpu).toBeNull();
  });

  // Under AddressSanitizer mlock() does nothing and the threads fault on ASan's shadow memory.
  it.skipIf(Boolean(process.env.RTLAT_SANITIZER))('locks the threads memory without mlockall, and the threads take no page faults', async () => {
    const before = lockedKb();
    const probe = startProbe({ periodNs: 100_000, loops: 3_000, keepProcessAlive: true });
    const during = lockedKb();
    expect(during).toBeGreaterThan(before);
    expect(probe.setup.codeLock.locked).toBe(true);
    expect(probe.setup.codeLock.objects).toBe(2);
    await probe.finished;
    const result = await probe.stop();
    for (const thread of result.threads) {
      expect(thread.memoryLocked).toBe(true);
      expect(thread.pageFaults).toBe(0);
    }
    // Stopping frees the stacks and rings; only the session's one-page control block waits for GC.
    expect(lockedKb()).toBeLessThanOrEqual(before + 4);
  });

  it('counts skipped periods as overruns, exactly as the samples imply', async () => {
    const periodNs = 500_000;
    const spikes: Spike[] = [];
    // Thread 0 sleeps 5 ms once: at least 8 whole periods pass while it is away.
    const probe = stallOnceForTest(
      new Probe({ periodNs, loops: 400, cpus: [1], spikeThresholdNs: 0, keepProcessAlive: true }, { onSpike: (spike) => spikes.push(spike) }),
      { afterCycles: 100, stallNs: 5_000_000 },
    ).start();
    await probe.finished;
    const [thread] = (await probe.stop()).threads;
    const implied = spikes.reduce((sum, spike) => sum + Math.max(0, Math.ceil(spike.latencyNs / periodNs) - 1), 0);
    expect(thread!.overruns).toBeGreaterThanOrEqual(8);
    expect(thread!.overruns).toBe(implied);
    expect(spikes.map((spike) => spike.cycle)).toEqual([...spikes.map((spike) => spike.cycle)].sort((a, b) => a - b));
    // The corrected view weighs the stall as the wake-ups it cost.
    expect(thread!.corrected.count).toBeGreaterThan(thread!.count);
  });

  it('counts samples the ring could not hold as dropped when nothing drains', async () => {
    const probe = startProbe({ periodNs: 50_000, loops: 3_000, cpus: [1], ringCapacity: 1_024, drainIntervalMs: 60_000, keepProcessAlive: true });
    while (probe.liveStats()[0]!.count < 3_000) await new Promise((resolve) => setTimeout(resolve, 20));
    const [thread] = (await probe.stop()).threads;
    expect(thread!.count).toBe(3_000);
    expect(thread!.histogramCount).toBe(1_024);
    expect(thread!.dropped).toBe(3_000 - 1_024);
  });

  it('stops promptly and idempotently, mid-run', async () => {
    const probe = startProbe({ periodNs: 1_000_000, cpus: [0] });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const first = probe.stop();
    expect(probe.stop()).toBe(first);
    const result = await first;
    expect(result.stoppedBy).toBe('stopped');
    expect(result.threads[0]!.count).toBeGreaterThan(0);
    expect(await threadsGone([result.threads[0]!.tid])).toBe(true);
  });

  it('keeps a running probe alive through garbage collection, and the process exits by itself', () => {
    const child = runChild(
      `import { Probe } from ${JSON.stringify(distIndex)};
       const startProbe = (options) => new Probe(options).start();
       let probe = startProbe({ periodNs: 1000000, cpus: [0] });
       const tid = probe.setup.threads[0].tid;
       probe = null;
       globalThis.gc();
       await new Promise((resolve) => setTimeout(resolve, 200));
       const { existsSync } = await import('node:fs');
       console.log(existsSync('/proc/self/task/' + tid) ? 'alive' : 'collected');`,
      { nodeFlags: ['--expose-gc'] },
    );
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('alive');
    // The script ended with the probe still running: the process exited on its own, cleanly.
    expect(child.status).toBe(0);
  });

  it('ends the measuring threads when a worker running a probe is terminated', async () => {
    const worker = new Worker(
      `import { Probe } from ${JSON.stringify(distIndex)};
       const startProbe = (options) => new Probe(options).start();
       import { parentPort } from 'node:worker_threads';
       const probe = startProbe({ periodNs: 1000000, cpus: [1] });
       setInterval(() => {}, 1000); // keeps the worker busy until it is terminated
       parentPort.postMessage(probe.setup.threads[0].tid);`,
      { eval: true, type: 'module' } as never,
    );
    const tid = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(existsSync(`/proc/self/task/${tid}`)).toBe(true);
    await worker.terminate();
    expect(await threadsGone([tid])).toBe(true);
  });

  it('refuses a run without privileges, naming what is missing and how to grant it', () => {
    const child = runChild(
      `import { Probe } from ${JSON.stringify(packageForNobody().distIndex)};
       const startProbe = (options) => new Probe(options).start();
       try { startProbe({ periodNs: 1000000, loops: 10 }); console.log('started'); }
       catch (error) { console.log(error.name + ': ' + error.message); }`,
      { asNobody: true },
    );
    expect(child.stdout).toMatch(/^PrivilegeError: rtlat: not permitted: SCHED_FIFO priority 99 \(EPERM\)/);
    expect(child.stdout).toContain('/dev/cpu_dma_latency');
    expect(child.stdout).toContain('setcap cap_sys_nice,cap_ipc_lock+ep');
    expect(child.stdout).toContain('--allow-degraded');
  });

  it('flags a degraded run as such when degraded runs are allowed', () => {
    const child = runChild(
      `import { Probe } from ${JSON.stringify(packageForNobody().distIndex)};
       const startProbe = (options) => new Probe(options).start();
       const probe = startProbe({ periodNs: 1000000, loops: 20, allowDegraded: true, keepProcessAlive: true });
       await probe.finished;
       const result = await probe.stop();
       console.log(JSON.stringify({ degraded: result.degraded, policy: result.threads[0].applied.policy, count: result.threads[0].count }));`,
      { asNobody: true },
    );
    const outcome = JSON.parse(child.stdout) as { degraded: string[]; policy: string; count: number };
    expect(outcome.degraded.some((refusal) => refusal.startsWith('SCHED_FIFO'))).toBe(true);
    expect(outcome.policy).toBe('other');
    expect(outcome.count).toBe(20);
  });
});

describe('the engine without starting it', () => {
  it('builds the addon that the tests load', () => {
    expect(existsSync(path.join(root, 'build/Release/rtlat.node')) || Boolean(process.env.RTLAT_ADDON)).toBe(true);
    expect(execFileSync(process.execPath, ['-e', `import(${JSON.stringify(distIndex)}).then((m) => console.log(typeof m.Probe))`], { encoding: 'utf8' }).trim()).toBe('function');
  });

  it('refuses a second start of the same probe', async () => {
    const { Probe } = await import('../src/index.js');
    const probe = new Probe({ periodNs: 1_000_000, loops: 5, allowDegraded: true, lockMemory: false, dmaLatency: false, policy: 'other', keepProcessAlive: true });
    probe.start();
    expect(() => probe.start()).toThrow(/already started/);
    await probe.stop();
  });

  it('refuses loopsEndAll without loops, naming both', () => {
    expect(() => new Probe({ loopsEndAll: true })).toThrow(new OptionError('loopsEndAll', true, 'loops with it (the first thread to reach them ends the run)'));
    expect(() => new Probe({ loopsEndAll: true })).toThrow('loopsEndAll: got true, expected loops with it (the first thread to reach them ends the run)');
  });

  it('exports PrivilegeError for callers to tell refusals apart', () => {
    expect(new PrivilegeError('x', ['y']).refusals).toEqual(['y']);
  });
});

describe('on a platform other than Linux', () => {
  it('imports, and start() says the probe needs Linux', () => {
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `Object.defineProperty(process, 'platform', { value: 'darwin' });
         const { Probe } = await import(${JSON.stringify(distIndex)});
         try { new Probe({ loops: 1 }).start(); } catch (error) { console.log(error.name + ': ' + error.message); }`,
      ],
      { encoding: 'utf8' },
    );
    expect(child.stdout.trim()).toBe('PlatformError: rtlat: the probe needs Linux (this is darwin)');
  });
});
