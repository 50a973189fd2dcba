// The split of one wake-up along its CPU's events, on traces written by hand for each way a wake-up
// is late, and the invariant on traces drawn at random: the segments always cover the latency exactly.
import { describe, expect, it } from 'vitest';
import { attributeWakeup, type TaskLookup } from '../src/measurement/explain/attribute.js';
import { describeCulprit, formatShare, partsOf, summarizeExplained } from '../src/measurement/explain/summary.js';
import type { ExplainedWakeup, ExplainSegment } from '../src/run-file/schema.js';
import type { TraceEvent } from '../src/trace/events.js';

const US = 1_000;
/** Due at 1 s of trace time; the measuring thread is tid 100 at SCHED_FIFO 80 (kernel prio 19). */
const DUE = 1_000_000_000;
const TID = 100;
const PRIO = 19;
const none: TaskLookup = () => null;

// Events at microseconds from the due time, on the task `pid` current when they were recorded.
const at = (us: number) => DUE + us * US;
const base = (us: number, pid: number) => ({ ts: at(us), cpu: 1, pid });
const timerIrq = (us: number, pid: number, exitUs: number): TraceEvent[] => [
  { ...base(us, pid), kind: 'vector-entry', vector: 'local_timer' },
  { ...base(us + 1, pid), kind: 'wakeup', wokenPid: TID, comm: 'rtlat/0', prio: PRIO },
  { ...base(exitUs, pid), kind: 'vector-exit', vector: 'local_timer' },
];
const switchTo = (us: number, from: { pid: number; comm: string; prio: number; runnable?: boolean }, to: { pid: number; comm: string; prio: number }): TraceEvent => ({
  ...base(us, from.pid),
  kind: 'switch',
  prevPid: from.pid,
  prevComm: from.comm,
  prevPrio: from.prio,
  prevRunnable: from.runnable ?? true,
  nextPid: to.pid,
  nextComm: to.comm,
  nextPrio: to.prio,
});
const thread = { pid: TID, comm: 'rtlat/0', prio: PRIO };

function split(events: TraceEvent[], latencyUs: number, lookup: TaskLookup = none): [ExplainSegment['part'], number, string | null][] {
  const { segments } = attributeWakeup(events, { tid: TID, prio: PRIO, dueNs: DUE, latencyNs: latencyUs * US }, lookup);
  return segments.map((segment) => [segment.part, segment.ns / US, segment.culprit]);
}

describe('one wake-up, split', () => {
  it('from idle: the timer interrupt came late (IRQ handler delay), then its handler, then the switch', () => {
    expect(split(timerIrq(10, 0, 15), 20)).toEqual([
      ['irqHandlerDelay', 10, null],
      ['timerIrq', 5, 'local_timer'],
      ['contextSwitch', 5, null],
    ]);
  });

  it('an interrupt handler running at the due time holds the timer off: IRQ interference', () => {
    const events: TraceEvent[] = [
      { ...base(-5, 0), kind: 'irq-entry', irq: 36, name: 'virtio1-req.0' },
      { ...base(8, 0), kind: 'irq-exit', irq: 36, name: '' },
      ...timerIrq(8, 0, 10),
    ];
    expect(split(events, 12)).toEqual([
      ['irqInterference', 8, 'irq 36 virtio1-req.0'],
      ['timerIrq', 2, 'local_timer'],
      ['contextSwitch', 2, null],
    ]);
  });

  it('a handler that began before the window is named by its exit alone', () => {
    const events: TraceEvent[] = [{ ...base(3, 0), kind: 'irq-exit', irq: 11, name: '' }, ...timerIrq(4, 0, 6)];
    expect(split(events, 7)[0]).toEqual(['irqInterference', 3, 'irq 11']);
  });

  it('after the timer: a softirq, then the interrupted task until it switches (blocking: it is of lower priority)', () => {
    const worker = { pid: 88, comm: 'kworker/1:2', prio: 120 };
    const events: TraceEvent[] = [
      ...timerIrq(2, 88, 10),
      { ...base(10, 88), kind: 'softirq-entry', name: 'NET_RX' },
      { ...base(30, 88), kind: 'softirq-exit', name: 'NET_RX' },
      switchTo(31, worker, thread),
    ];
    expect(split(events, 33)).toEqual([
      ['irqHandlerDelay', 2, null],
      ['timerIrq', 8, 'local_timer'],
      ['softirqInterference', 20, 'NET_RX'],
      ['blockingThread', 1, 'kworker/1:2 (pid 88)'],
      ['contextSwitch', 2, null],
    ]);
  });

  it('a task of higher priority running on: Thread interference by it', () => {
    const burst = { pid: 4242, comm: 'rtlat-burst', prio: 4 };
    const events: TraceEvent[] = [...timerIrq(5, burst.pid, 7), switchTo(300, burst, thread)];
    expect(split(events, 305)).toEqual([
      ['irqHandlerDelay', 5, null],
      ['timerIrq', 2, 'local_timer'],
      ['threadInterference', 293, 'rtlat-burst (pid 4242)'],
      ['contextSwitch', 5, null],
    ]);
  });

  it('equal priority is interference too; a priority the window does not show comes from the lookup', () => {
    const peer = { pid: 7, comm: 'peer', prio: PRIO };
    expect(split([...timerIrq(1, 7, 2), switchTo(50, peer, thread)], 51).map(([part]) => part)).toContain('threadInterference');
    // No switch in the window: the task's priority is not in it.
    const lookup: TaskLookup = (pid) => (pid === 9 ? { comm: 'watchdog', prio: 0 } : null);
    expect(split(timerIrq(1, 9, 2), 40, lookup).at(-1)).toEqual(['threadInterference', 38, 'watchdog (pid 9)']);
    expect(split(timerIrq(1, 9, 2), 40).at(-1)).toEqual(['blockingThread', 38, 'pid 9']);
  });

  it('a thread preempted before it fell due was runnable all along: no timer part, only who held the CPU', () => {
    const burst = { pid: 4242, comm: 'rtlat-burst', prio: 4 };
    const events: TraceEvent[] = [switchTo(-20, { ...thread, runnable: true }, burst), switchTo(100, burst, thread)];
    expect(split(events, 102)).toEqual([
      ['threadInterference', 100, 'rtlat-burst (pid 4242)'],
      ['contextSwitch', 2, null],
    ]);
  });

  it('... also when its preemption lies before the window: it got the CPU with no wake-up', () => {
    const burst = { pid: 4242, comm: 'rtlat-burst', prio: 4 };
    const events: TraceEvent[] = [{ ...base(-10, burst.pid), kind: 'wakeup', wokenPid: 7, comm: 'peer', prio: 120 }, switchTo(100, burst, thread)];
    expect(split(events, 102)).toEqual([
      ['threadInterference', 100, 'rtlat-burst (pid 4242)'],
      ['contextSwitch', 2, null],
    ]);
  });

  it('with no wake-up in the trace, all of it is unexplained', () => {
    expect(split([], 50)).toEqual([['unexplained', 50, null]]);
    const asleep: TraceEvent[] = [switchTo(-20, { ...thread, runnable: false }, { pid: 0, comm: 'swapper/1', prio: 120 })];
    expect(split(asleep, 50)).toEqual([['unexplained', 50, null]]);
  });

  it('names what the window shows of each task', () => {
    const burst = { pid: 4242, comm: 'rtlat-burst', prio: 4 };
    const { tasks } = attributeWakeup([...timerIrq(5, burst.pid, 7), switchTo(300, burst, thread)], { tid: TID, prio: PRIO, dueNs: DUE, latencyNs: 305 * US }, none);
    expect(tasks.get(4242)).toEqual({ comm: 'rtlat-burst', prio: 4 });
  });
});

describe('the segments of any trace', () => {
  // A small deterministic generator: the same traces on every run.
  function random(seed: number): () => number {
    let state = seed;
    return () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
  }

  it('cover the latency exactly, in order, whatever the events (2,000 random traces)', () => {
    const next = random(15);
    const pids = [0, TID, 88, 4242, 7];
    for (let trace = 0; trace < 2_000; trace++) {
      const latencyUs = 1 + Math.floor(next() * 500);
      const events: TraceEvent[] = [];
      for (let i = Math.floor(next() * 40); i > 0; i--) {
        const us = -100 + next() * (latencyUs + 200);
        const pid = pids[Math.floor(next() * pids.length)]!;
        const choice = Math.floor(next() * 8);
        const shared = base(us, pid);
        if (choice === 0) events.push({ ...shared, kind: 'wakeup', wokenPid: TID, comm: 'rtlat/0', prio: PRIO });
        else if (choice === 1) events.push({ ...shared, kind: 'irq-entry', irq: 36, name: 'virtio' });
        else if (choice === 2) events.push({ ...shared, kind: 'irq-exit', irq: 36, name: '' });
        else if (choice === 3) events.push({ ...shared, kind: 'softirq-entry', name: 'TIMER' });
        else if (choice === 4) events.push({ ...shared, kind: 'softirq-exit', name: 'TIMER' });
        else if (choice === 5) events.push({ ...shared, kind: 'vector-entry', vector: 'local_timer' });
        else if (choice === 6) events.push({ ...shared, kind: 'vector-exit', vector: 'local_timer' });
        else events.push(switchTo(us, { pid, comm: `t${pid}`, prio: 100 + pid / 100, runnable: next() < 0.5 }, { pid: pids[Math.floor(next() * pids.length)]!, comm: 'x', prio: 50 }));
      }
      events.sort((a, b) => a.ts - b.ts);
      const { segments } = attributeWakeup(events, { tid: TID, prio: PRIO, dueNs: DUE, latencyNs: latencyUs * US }, none);
      let offsetNs = 0;
      for (const segment of segments) {
        expect(segment.offsetNs).toBe(offsetNs);
        expect(segment.ns).toBeGreaterThan(0);
        offsetNs += segment.ns;
      }
      expect(offsetNs).toBe(latencyUs * US);
    }
  });
});

describe('the summary', () => {
  const wakeup = (segments: ExplainSegment[]): ExplainedWakeup => ({
    thread: 0,
    cpu: 1,
    cycle: 0,
    dueNs: 0,
    latencyNs: segments.reduce((sum, segment) => sum + segment.ns, 0),
    complete: true,
    parts: partsOf(segments),
    segments,
  });

  it('shares the late time by part and by named cause, biggest first, in one line', () => {
    const summary = summarizeExplained([
      wakeup([
        { part: 'irqHandlerDelay', offsetNs: 0, ns: 50_000, culprit: null },
        { part: 'softirqInterference', offsetNs: 50_000, ns: 14_000, culprit: 'NET_RX' },
        { part: 'unexplained', offsetNs: 64_000, ns: 13_000, culprit: null },
      ]),
      wakeup([
        { part: 'timerIrq', offsetNs: 0, ns: 11_000, culprit: 'local_timer' },
        { part: 'blockingThread', offsetNs: 11_000, ns: 12_000, culprit: 'kworker/1:2 (pid 88)' },
      ]),
    ]);
    expect(summary.wakeups).toBe(2);
    expect(summary.lateNs).toBe(100_000);
    expect(summary.headline).toBe('timer delay 61%; softirq NET_RX 14%; unexplained 13%; blocking thread kworker/1:2 (pid 88) 12%');
    expect(summary.parts.find((part) => part.part === 'irqHandlerDelay')).toEqual({ part: 'irqHandlerDelay', label: 'IRQ handler delay', ns: 50_000, share: 0.5 });
    expect(summary.culprits).toEqual([
      { part: 'softirqInterference', culprit: 'NET_RX', ns: 14_000, share: 0.14, wakeups: 1 },
      { part: 'blockingThread', culprit: 'kworker/1:2 (pid 88)', ns: 12_000, share: 0.12, wakeups: 1 },
    ]);
    expect(summarizeExplained([]).headline).toBe('no late time');
  });

  it('writes shares as a person reads them, and names causes as rtla does', () => {
    expect([0, 0.0001, 0.004, 0.042, 0.61, 0.998, 1].map(formatShare)).toEqual(['0%', '<0.1%', '0.4%', '4.2%', '61%', '99.8%', '100%']);
    expect(describeCulprit('irqInterference', 'local_timer')).toBe('irq local_timer');
    expect(describeCulprit('irqInterference', 'irq 36 virtio1-req.0')).toBe('irq 36 virtio1-req.0');
    expect(describeCulprit('threadInterference', 'rtlat-burst (pid 4)')).toBe('thread interference rtlat-burst (pid 4)');
  });
});
