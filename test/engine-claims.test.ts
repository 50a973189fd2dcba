// What the engine claims about its measuring threads, checked through the real addon: no page faults
// even while the process forks, no signal handlers on them, prompt stops at any period, nothing left
// locked by a refused start, and a corrected view that adds up. Never an assertion on a latency value.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { OptionError, Probe } from '../src/index.js';
import { stallOnceForTest } from '../src/engine/probe.js';
import { usableCpus } from '../src/engine/system.js';
import { settledCount, threadsGone, threadsWhere } from './helpers/threads.js';

const distIndex = path.resolve(import.meta.dirname, '../dist/index.js');

const isRoot = process.getuid?.() === 0;
// Under AddressSanitizer mlock() does nothing and the threads fault on ASan's shadow memory.
const sanitized = Boolean(process.env.RTLAT_SANITIZER);
const FIVE_SECONDS_NS = 5_000_000_000;
// A worker or process exit must not wait for the next wake-up: well below the 5 s period, with room for
// a busy machine and for the sanitizer build, whose leak check runs at every process exit.
const PROMPT_EXIT_MS = 2_000;

/** A field of /proc/<pid>/task/<tid>/status (or of the process's own status without a tid) as a 64-bit signal mask. */
function signalMask(field: 'SigBlk' | 'SigCgt', tid?: number): bigint {
  const status = readFileSync(tid === undefined ? '/proc/self/status' : `/proc/self/task/${tid}/status`, 'utf8');
  return BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status)![1]}`);
}

const signalsIn = (mask: bigint) => Array.from({ length: 64 }, (_, bit) => bit + 1).filter((signal) => (mask >> BigInt(signal - 1)) & 1n);

function lockedKb(): number {
  return Number(/^VmLck:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
}

async function elapsedMs(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

describe.skipIf(!isRoot)('the measuring threads (needs root: run the tests as root, as CI does)', () => {
  it.skipIf(sanitized)('take no page faults while the process spawns children (fork makes pages copy-on-write)', async () => {
    const probe = new Probe({ periodNs: 200_000, cpus: [0, 1] }).start();
    try {
      for (let child = 0; child < 5; child++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(spawnSync('/bin/true').status).toBe(0);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await probe.stop();
    }
    const result = await probe.stop();
    for (const thread of result.threads) {
      expect(thread.count).toBeGreaterThan(0);
      expect(thread.memoryLocked).toBe(true);
      expect(thread.pageFaults).toBe(0);
    }
  });
});

describe.skipIf(!isRoot)('the code lock (needs root: run the tests as root, as CI does)', () => {
  it.skipIf(sanitized)('reports as locked exactly the bytes it locked (not the vDSO, which mlock cannot lock)', async () => {
    // A second probe shares the first one's code lock: the difference of what each adds is the code.
    const options = { periodNs: 1_000_000, cpus: [1], dmaLatency: false };
    const before = lockedKb();
    const first = new Probe(options).start();
    const withFirst = lockedKb();
    const second = new Probe(options).start();
    const withBoth = lockedKb();
    try {
      expect(first.setup.codeLock).toMatchObject({ locked: true, objects: 2 });
      expect(second.setup.codeLock.bytes).toBe(first.setup.codeLock.bytes);
      expect((withFirst - before - (withBoth - withFirst)) * 1_024).toBe(first.setup.codeLock.bytes);
    } finally {
      await first.stop();
      await second.stop();
    }
    expect(lockedKb()).toBe(before);
  });
});

describe.skipIf(!isRoot)('signals and stopping (needs root: run the tests as root, as CI does)', () => {
  it('blocks every signal in the measuring threads but the one that wakes them, whose handler the addon installed', async () => {
    const probe = new Probe({ periodNs: 1_000_000, cpus: [0, 1] }).start();
    try {
      for (const { tid } of probe.setup.threads) {
        // SIGKILL and SIGSTOP cannot be blocked; glibc keeps its own 32 and 33 out of every mask.
        const unblocked = signalsIn(~signalMask('SigBlk', tid) & 0xffff_ffff_ffff_ffffn).filter((signal) => ![9, 19, 32, 33].includes(signal));
        expect(unblocked).toHaveLength(1);
        const [wake] = unblocked as [number];
        expect(wake).toBeGreaterThanOrEqual(34); // a real-time signal
        expect(signalsIn(signalMask('SigCgt'))).toContain(wake);
      }
    } finally {
      await probe.stop();
    }
  });

  it('stops mid-sleep at a 5 s period: before any thread wakes, in a fraction of the period', async () => {
    const probe = new Probe({ periodNs: FIVE_SECONDS_NS, cpus: [0, 1] }).start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const tids = probe.setup.threads.map((thread) => thread.tid);
    const stopMs = await elapsedMs(() => probe.stop());
    // What says it was mid-sleep is that no thread woke; the time only says stop did not wait it out.
    expect(stopMs).toBeLessThan(PROMPT_EXIT_MS);
    const result = await probe.stop();
    expect(result.stoppedBy).toBe('stopped');
    expect(result.threads.map((thread) => thread.count)).toEqual([0, 0]);
    expect(await threadsGone(tids)).toBe(true);
  });

  it('ends a worker promptly when it is terminated during a 5 s period', async () => {
    const worker = new Worker(
      `import { Probe } from ${JSON.stringify(distIndex)};
       import { parentPort } from 'node:worker_threads';
       const probe = new Probe({ periodNs: ${FIVE_SECONDS_NS}, cpus: [1] }).start();
       setInterval(() => {}, 1000);
       parentPort.postMessage(probe.setup.threads[0].tid);`,
      { eval: true, type: 'module' } as never,
    );
    const tid = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(await elapsedMs(() => worker.terminate())).toBeLessThan(PROMPT_EXIT_MS);
    expect(await threadsGone([tid])).toBe(true);
  });

  it('lets a process exit promptly during a 5 s period', async () => {
    const child = spawn(process.execPath, [
      '--input-type=module',
      '-e',
      `import { Probe } from ${JSON.stringify(distIndex)};
       new Probe({ periodNs: ${FIVE_SECONDS_NS}, cpus: [1] }).start();
       console.log('measuring');`,
    ]);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const measuringAt = await new Promise<number>((resolve) => child.stdout.once('data', () => resolve(performance.now())));
    const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(performance.now() - measuringAt).toBeLessThan(PROMPT_EXIT_MS);
    expect(stderr).toBe('');
    expect(status).toBe(0);
  });
});

describe.skipIf(!isRoot)('a refused start (needs root: run the tests as root, as CI does)', () => {
  // One thread more than there are CPUs, each reserving all of a CPU: more than SCHED_DEADLINE admits.
  const overbooked = { policy: 'deadline', periodNs: 1_000_000, deadlineRuntimeNs: 1_000_000, threads: usableCpus().online.length + 1, loops: 10 } as const;

  it('reports SCHED_DEADLINE admission control (EBUSY) as a usage error naming the bandwidth asked for', () => {
    let refusal: unknown;
    try {
      new Probe(overbooked).start();
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(OptionError);
    const message = (refusal as OptionError).message;
    expect(message).toMatch(/^deadline-runtime: got "1ms", expected a reservation the kernel admits, at most [\d.]+% of one CPU in all \([\d.]+% of each of \d+ CPUs: kernel.sched_rt_runtime_us/);
    expect(message).toContain(`this run asked for ${overbooked.threads * 100}% (${overbooked.threads} thread(s) of 1ms every 1ms) and SCHED_DEADLINE admission control refused it (EBUSY)`);
  });

  it.skipIf(sanitized)('leaves no memory locked and no thread behind', async () => {
    const before = lockedKb();
    const tasks = new Set(readdirSync('/proc/self/task'));
    expect(() => new Probe(overbooked).start()).toThrow(OptionError);
    expect(lockedKb()).toBe(before);
    expect(await settledCount(() => threadsWhere((tid) => !tasks.has(tid)), 0)).toBe(0);
  });
});

describe.skipIf(!isRoot)('the corrected view (needs root: run the tests as root, as CI does)', () => {
  const periodNs = 500_000;
  // Stalls that are not whole multiples of the period. A stall of S after a wake-up makes the next one
  // about S - P late: 2.5 periods give a latency between P and 2P (one skipped wake-up).
  for (const periods of [2.5, 3.3, 7.7, 10.06]) {
    it(`imputes one wake-up per overrun: corrected.count == count + overruns after a stall of ${periods} periods`, async () => {
      const stallNs = Math.round(periods * periodNs);
      const probe = stallOnceForTest(new Probe({ periodNs, loops: 300, cpus: [1] }), { afterCycles: 100, stallNs }).start();
      await probe.finished;
      const [thread] = (await probe.stop()).threads;
      expect(thread!.count).toBe(300);
      expect(thread!.dropped).toBe(0);
      expect(thread!.overruns).toBeGreaterThanOrEqual(Math.ceil(periods - 1) - 1);
      expect(thread!.corrected.count).toBe(thread!.count + thread!.overruns);
    });
  }
});
