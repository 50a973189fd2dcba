// rtlat guest --explain and --explain-host: the guest explains its own late wake-ups, and the host
// says who kept the vCPU thread off its CPU meanwhile. The injected cause: a SCHED_FIFO host task
// bursting on the vCPU thread's CPU, above QEMU (itself at SCHED_FIFO, so that ordinary host tasks
// cannot preempt it). Also the clock alignment, on a guest clock that is simulated.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alignClocks, ClockExchange } from '../src/targets/guest/clock-align.js';
import { VcpuTimeline } from '../src/trace/host-vcpus.js';
import type { TraceEvent } from '../src/trace/events.js';
import { CLOCK_END, CLOCK_PING } from '../src/targets/guest/protocol.js';
import type { RunFile } from '../src/run-file/schema.js';
import { scratchDir } from './helpers/cli.js';
import { bootingGuests, guestTools, rtlatAsync } from './helpers/guest.js';
import { realTimeBursts } from './helpers/interference.js';
import { schemaProblems } from './helpers/schema.js';
import { itWithTool } from './helpers/tools.js';

const isRoot = process.getuid?.() === 0;
/** A burst holds the CPU a little longer than it stamps its start and end (its wake-up, its print). */
const SLACK_NS = 300_000;

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

describe('the host\'s view of a vCPU thread', () => {
  const US = 1_000;
  const VCPU = 500;
  const task = (pid: number) => (pid === 0 ? { pid, comm: 'swapper/1', prio: 120 } : pid === VCPU ? { pid, comm: 'qemu-system-x86', prio: 49 } : { pid, comm: `task${pid}`, prio: 39 });
  const switched = (us: number, from: number, to: number, runnable = true): TraceEvent => ({
    ts: us * US, cpu: 1, pid: from, kind: 'switch',
    prevPid: from, prevComm: task(from).comm, prevPrio: task(from).prio, prevRunnable: runnable,
    nextPid: to, nextComm: task(to).comm, nextPrio: task(to).prio,
  });
  const woken = (us: number): TraceEvent => ({ ts: us * US, cpu: 1, pid: 0, kind: 'wakeup', wokenPid: VCPU, comm: 'qemu-system-x86', prio: 49 });
  const timeline = (events: TraceEvent[]) => {
    const line = new VcpuTimeline([VCPU]);
    for (const event of events) line.step(event);
    return line;
  };

  it('counts the time a task preempting it held its CPU', () => {
    const view = timeline([switched(10, VCPU, 7), switched(310, 7, VCPU)]).viewOf(0, 0, 400 * US, false)!;
    expect(view).toMatchObject({ vcpuTid: VCPU, preemptedNs: 300 * US, preemptedBy: [{ culprit: 'task7 (pid 7)', ns: 300 * US }], outsideGuestNs: null });
    // Only the part of the wait inside the wake-up counts.
    expect(timeline([switched(10, VCPU, 7), switched(310, 7, VCPU)]).viewOf(0, 110 * US, 210 * US, false)!.preemptedBy).toEqual([{ culprit: 'task7 (pid 7)', ns: 100 * US }]);
  });

  it('counts the wait of a woken thread for the task that had the CPU, and none when it came straight from idle', () => {
    expect(timeline([switched(50, 0, 8), woken(100), switched(250, 8, VCPU)]).viewOf(0, 0, 300 * US, false)).toMatchObject({
      preemptedNs: 150 * US,
      preemptedBy: [{ culprit: 'task8 (pid 8)', ns: 150 * US }],
    });
    // Woken on an idle CPU, it ran at once, though the kernel traced no switch to it: only the later preemption counts.
    const fromIdle = timeline([switched(0, VCPU, 0, false), woken(100), switched(500, VCPU, 7), switched(800, 7, VCPU)]);
    expect(fromIdle.viewOf(0, 0, 1000 * US, false)).toMatchObject({ preemptedNs: 300 * US, preemptedBy: [{ culprit: 'task7 (pid 7)', ns: 300 * US }] });
  });

  it('under KVM: the time outside the guest, long exits one by one and short ones by their share of a bucket', () => {
    const exit = (us: number, reason: string): TraceEvent => ({ ts: us * US, cpu: 1, pid: VCPU, kind: 'kvm-exit', reason });
    const entry = (us: number): TraceEvent => ({ ts: us * US, cpu: 1, pid: VCPU, kind: 'kvm-entry' });
    const events = [exit(1_000, 'EPT_VIOLATION'), entry(1_040)];
    // 100 exits of 1us in the bucket [0, 10ms).
    for (let i = 0; i < 100; i++) events.push(exit(2_000 + i * 50, 'MSR_WRITE'), entry(2_001 + i * 50));
    events.sort((a, b) => a.ts - b.ts);
    const whole = timeline(events).viewOf(0, 0, 10_000 * US, true)!;
    expect(whole.outsideGuestNs).toBe(140 * US);
    expect(whole.exitReasons).toEqual([
      { reason: 'MSR_WRITE', count: 100, ns: 100 * US },
      { reason: 'EPT_VIOLATION', count: 1, ns: 40 * US },
    ]);
    const half = timeline(events).viewOf(0, 0, 5_000 * US, true)!;
    expect(half.exitReasons.find((entry) => entry.reason === 'MSR_WRITE')).toEqual({ reason: 'MSR_WRITE', count: 50, ns: 50 * US });
  });
});

describe.skipIf(!isRoot)('rtlat guest --explain-host (needs root for tracefs and SCHED_FIFO)', () => {
  const kernels = bootingGuests();

  itWithTool(guestTools, 'attributes the guest\'s late wake-ups to the host task preempting its vCPU thread', async () => {
    const dir = scratchDir();
    const json = path.join(dir, 'guest.json');
    // 10 ms every 50 ms at SCHED_FIFO 60 on CPU 1, where the vCPU thread runs at SCHED_FIFO 50, for the test's
    // length only: long against the clock alignment's error under TCG (a few ms: the serial port's round trip).
    const bursts = realTimeBursts({ cpu: 1, priority: 60, burstUs: 10_000, everyMs: 50, seconds: 120 });
    await bursts.ready;
    let outcome;
    try {
      outcome = await rtlatAsync([
        'guest', '--kernel', kernels.nrt, '--accel', 'tcg', '--cpus', '1', '--pin-vcpus', '1', '--qemu-priority', '50',
        '--period', '5ms', '--duration', '6s', '--explain', '2ms', '--explain-host', '--json', json,
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
    expect(explain.hostTrace!.perCpu.map((cpu) => cpu.cpu)).toEqual([1]);
    expect(explain.hostTrace!.perCpu[0]!.events).toBeGreaterThan(0);
    expect(outcome.stdout).toContain(`; ${explain.hostTrace!.lostEvents} host trace events lost`);
    // ... and the host names who kept its vCPU thread off CPU 1: the bursts.
    const burst = `${bursts.comm} (pid ${bursts.pid})`;
    expect(outcome.stdout).toContain('explain (host): vCPU threads kept off their CPUs');
    expect(outcome.stdout).toContain(burst);
    expect(explain.summary.host!.culprits[0]).toMatchObject({ culprit: burst });
    const preempted = explain.wakeups.filter((wakeup) => wakeup.host!.preemptedNs >= 1_000_000);
    expect(preempted.length).toBeGreaterThan(0);
    // Where the host saw the vCPU thread kept off its CPU for a millisecond or more, it was the bursts
    // (at least mostly: on a shared machine, RT throttling can hand the CPU to an ordinary task now and then).
    expect(2 * preempted.filter((wakeup) => wakeup.host!.preemptedBy[0]?.culprit === burst).length).toBeGreaterThanOrEqual(preempted.length);
    for (const wakeup of explain.wakeups) {
      const host = wakeup.host!;
      expect(host.vcpuTid).toBeGreaterThan(0);
      expect(host.preemptedNs).toBeLessThanOrEqual(wakeup.latencyNs + 2 * explain.clockAlignment!.errorNs);
      // Never more than the bursts ran within the wake-up (both on the host's clock; the bursts say when they ran).
      const endNs = host.hostDueNs + wakeup.latencyNs;
      const ranNs = bursts.ran.reduce((sum, [start, end]) => sum + Math.max(0, Math.min(end, endNs) - Math.max(start, host.hostDueNs)), 0);
      expect(host.preemptedBy.find((entry) => entry.culprit === burst)?.ns ?? 0).toBeLessThanOrEqual(ranNs + SLACK_NS);
    }
  }, 300_000);
});
