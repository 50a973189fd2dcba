// rtlat guest --explain and --explain-host: the guest explains its own late wake-ups, and the host
// says who kept the vCPU thread off its CPU meanwhile. The injected cause: a SCHED_FIFO host task
// bursting on the vCPU thread's CPU, above QEMU (itself at SCHED_FIFO, so that ordinary host tasks
// cannot preempt it). Also the clock alignment, on a guest clock that is simulated.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alignClocks, ClockExchange } from '../src/guest/clock-align.js';
import { CLOCK_END, CLOCK_PING } from '../src/guest/protocol.js';
import type { RunFile } from '../src/run.js';
import { scratchDir } from './helpers/cli.js';
import { bootingGuests, guestTools, rtlatAsync } from './helpers/guest.js';
import { realTimeBursts } from './helpers/interference.js';
import { schemaProblems } from './helpers/schema.js';
import { itWithTool } from './helpers/tools.js';

const isRoot = process.getuid?.() === 0;

describe('the clock exchange', () => {
  /** A guest whose clock is the host's minus 5 s, running `ppm` fast, answering each ping after `delayMs`. */
  function simulatedGuest(exchange: ClockExchange, ppm: number, delayMs: number) {
    const startNs = Number(process.hrtime.bigint());
    const sent: string[] = [];
    const send = (text: string) => {
      sent.push(text);
      if (text !== CLOCK_PING) return;
      setTimeout(() => {
        const hostNs = Number(process.hrtime.bigint()) - (delayMs / 2) * 1e6;
        exchange.handle({ kind: 'sample', guestNs: hostNs - 5e9 + (hostNs - startNs) * ppm * 1e-6 });
      }, delayMs);
    };
    return { send, sent };
  }

  it('finds the offset within its error bound, and the drift from two exchanges', async () => {
    const exchange = new ClockExchange(() => {});
    const guest = simulatedGuest(exchange, 200, 2);
    exchange.handle({ kind: 'ready' });
    const start = await exchange.measure(guest.send, 5_000);
    expect(guest.sent.filter((text) => text === CLOCK_PING)).toHaveLength(16);
    expect(guest.sent.at(-1)).toBe(CLOCK_END);
    expect(start.errorNs).toBeGreaterThan(0);
    expect(Math.abs(start.offsetNs - 5e9)).toBeLessThanOrEqual(start.errorNs + 1e6);
    await new Promise((resolve) => setTimeout(resolve, 300));
    exchange.handle({ kind: 'ready' });
    const end = await exchange.measure(guest.send, 5_000);
    const alignment = alignClocks(start, end);
    expect(alignment.errorNs).toBe(Math.max(start.errorNs, end.errorNs));
    // 300 ms apart with a few ms of error each: the drift is the simulated one, to within the errors' slope.
    expect(Math.abs(alignment.driftPpm + 200)).toBeLessThan((2 * alignment.errorNs) / 300e6 * 1e6 + 50);
    // A guest time maps onto the host's within the error bound.
    const guestNow = Number(process.hrtime.bigint()) - 5e9;
    expect(Math.abs(alignment.toHost(guestNow) - (guestNow + 5e9))).toBeLessThan(alignment.errorNs * 2 + 2e6);
  });

  it('says the guest did not answer, in time', async () => {
    const exchange = new ClockExchange(() => {});
    exchange.handle({ kind: 'ready' });
    await expect(exchange.measure(() => {}, 200)).rejects.toThrow('the guest did not answer a clock ping within 0.2s');
  });
});

describe.skipIf(!isRoot)('rtlat guest --explain-host (needs root for tracefs and SCHED_FIFO)', () => {
  const kernels = bootingGuests();

  itWithTool(guestTools, 'attributes the guest\'s late wake-ups to the host task preempting its vCPU thread', async () => {
    const dir = scratchDir();
    const json = path.join(dir, 'guest.json');
    // 3 ms every 30 ms at SCHED_FIFO 60 on CPU 1, where the vCPU thread runs at SCHED_FIFO 50, for the test's length only.
    const bursts = realTimeBursts({ cpu: 1, priority: 60, burstUs: 3_000, everyMs: 30, seconds: 120 });
    await bursts.ready;
    let outcome;
    try {
      outcome = await rtlatAsync([
        'guest', '--kernel', kernels.nrt, '--accel', 'tcg', '--cpus', '1', '--pin-vcpus', '1', '--qemu-priority', '50',
        '--period', '5ms', '--duration', '6s', '--explain', '1ms', '--explain-host', '--json', json,
      ]);
    } finally {
      await bursts.stop();
    }
    expect(outcome.status, outcome.stderr).toBe(0);
    const run = JSON.parse(readFileSync(json, 'utf8')) as RunFile;
    expect(schemaProblems(run)).toBe('');
    const explain = run.explain!;
    // The guest explained its own wake-ups from its own trace ...
    expect(explain.summary.wakeups).toBeGreaterThan(0);
    expect(explain.trace.reader).toBe('trace_pipe_raw');
    // ... on a clock aligned with the host's, within a stated bound ...
    expect(explain.clockAlignment!.errorNs).toBeGreaterThan(0);
    expect(Number.isFinite(explain.clockAlignment!.offsetNs)).toBe(true);
    // ... and the host names who kept its vCPU thread off CPU 1: the bursts.
    const burst = `${bursts.comm} (pid ${bursts.pid})`;
    expect(explain.summary.host!.culprits[0]).toMatchObject({ culprit: burst });
    expect(outcome.stdout).toContain(`explain (host): vCPU threads kept off their CPUs`);
    expect(outcome.stdout).toContain(burst);
    for (const wakeup of explain.wakeups) {
      expect(wakeup.host!.vcpuTid).toBeGreaterThan(0);
      expect(wakeup.host!.preemptedNs).toBeLessThanOrEqual(wakeup.latencyNs + 2 * explain.clockAlignment!.errorNs);
    }
    expect(explain.wakeups.some((wakeup) => wakeup.host!.preemptedBy[0]?.culprit === burst)).toBe(true);
  }, 300_000);
});
