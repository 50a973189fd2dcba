// The raw page decoder against the kernel's own text rendering of the same events: ten pages read
// from trace_pipe_raw on Linux 6.18, and the per_cpu trace file printed just before they were read
// (test/fixtures/trace). Also a page built by hand for the records a short capture may not hold.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEventFormat, symbolicTables } from '../src/trace/event-format.js';
import { eventDecoders, explainEvents, hostEvents, type TraceEvent } from '../src/trace/events.js';
import { decodePage } from '../src/trace/pages.js';
import { formatTracing } from '../src/outputs/tracing.js';
import { cpuMaskHex } from '../src/trace/tracefs.js';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures/trace');
const EVENTS_DIR = path.join(FIXTURES, 'events');
const PAGE_BYTES = 4096;

interface TextEvent {
  pid: number;
  us: number;
  name: string;
  fields: string;
}

function textEvents(): TextEvent[] {
  return readFileSync(path.join(FIXTURES, 'cpu1-pages.txt'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const match = /^\s*(.+)-(\d+)\s+\[\d+\]\s+\S+\s+(\d+)\.(\d{6}):\s+(\w+):\s*(.*)$/.exec(line);
      if (!match) throw new Error(`unexpected line: ${line}`);
      return { pid: Number(match[2]), us: Number(match[3]) * 1e6 + Number(match[4]), name: match[5]!, fields: match[6]! };
    })
    // The capture holds an event --explain no longer reads (hrtimer_expire_entry): its records are skipped.
    .filter((event) => event.name in KINDS);
}

function decodeAll(): TraceEvent[] {
  const raw = readFileSync(path.join(FIXTURES, 'cpu1-pages.raw'));
  const decoders = eventDecoders(EVENTS_DIR, explainEvents(EVENTS_DIR));
  const events: TraceEvent[] = [];
  for (let offset = 0; offset < raw.length; offset += PAGE_BYTES) {
    decodePage(raw.subarray(offset, offset + PAGE_BYTES), 1, decoders, 0, Number.POSITIVE_INFINITY, events);
  }
  return events;
}

const KINDS: Record<string, TraceEvent['kind']> = {
  sched_switch: 'switch',
  sched_wakeup: 'wakeup',
  irq_handler_entry: 'irq-entry',
  irq_handler_exit: 'irq-exit',
  softirq_entry: 'softirq-entry',
  softirq_exit: 'softirq-exit',
  local_timer_entry: 'vector-entry',
  local_timer_exit: 'vector-exit',
};

describe('raw trace pages', () => {
  it('decode to the events the kernel prints, in order, with their times and fields', () => {
    const text = textEvents();
    const decoded = decodeAll();
    expect(decoded.length).toBe(text.length);
    expect(decoded.length).toBeGreaterThan(500);
    decoded.forEach((event, index) => {
      const expected = text[index]!;
      expect(event.kind).toBe(KINDS[expected.name]);
      expect(event.pid).toBe(expected.pid);
      // The text shows whole microseconds, rounded (the kernel's ns2usecs).
      expect(Math.round(event.ts / 1000)).toBe(expected.us);
      expect(event.cpu).toBe(1);
      const field = (name: string) => new RegExp(`(?:^|\\s)${name}=(\\S+)`).exec(expected.fields)?.[1];
      switch (event.kind) {
        case 'switch':
          expect([event.prevComm, event.prevPid, event.prevPrio, event.nextComm, event.nextPid, event.nextPrio].map(String)).toEqual(
            ['prev_comm', 'prev_pid', 'prev_prio', 'next_comm', 'next_pid', 'next_prio'].map((name) => field(name)),
          );
          // "R" (running, it called schedule itself) and "R+" (preempted) are the states still runnable.
          expect(event.prevRunnable).toBe(field('prev_state')!.startsWith('R'));
          break;
        case 'wakeup':
          expect([event.comm, event.wokenPid, event.prio].map(String)).toEqual([field('comm'), field('pid'), field('prio')]);
          break;
        case 'irq-entry':
          expect([String(event.irq), event.name]).toEqual([field('irq'), field('name')]);
          break;
        case 'irq-exit':
          expect(String(event.irq)).toBe(field('irq'));
          break;
        case 'softirq-entry':
        case 'softirq-exit':
          expect(`[action=${event.name}]`).toBe(/\[action=\w+\]/.exec(expected.fields)![0]);
          break;
        case 'vector-entry':
        case 'vector-exit':
          expect(event.vector).toBe('local_timer');
          break;
      }
    });
  });

  it('keep only the events of the range asked for', () => {
    const all = decodeAll();
    const from = all[100]!.ts;
    const to = all[200]!.ts;
    const raw = readFileSync(path.join(FIXTURES, 'cpu1-pages.raw'));
    const decoders = eventDecoders(EVENTS_DIR, explainEvents(EVENTS_DIR));
    const some: TraceEvent[] = [];
    for (let offset = 0; offset < raw.length; offset += PAGE_BYTES) decodePage(raw.subarray(offset, offset + PAGE_BYTES), 1, decoders, from, to, some);
    expect(some).toEqual(all.filter((event) => event.ts >= from && event.ts <= to));
  });

  it('read time extends, padding, long records and the missed-events flag of a page built by hand', () => {
    const decoders = new Map([[7, (_page: Buffer, _start: number, ts: number, cpu: number, pid: number) => ({ ts, cpu, pid, kind: 'kvm-entry' as const })]]);
    const page = Buffer.alloc(PAGE_BYTES);
    page.writeBigUInt64LE(1_000_000n, 0);
    let offset = 16;
    const record = (typeLen: number, delta: number) => {
      page.writeUInt32LE(((delta << 5) | typeLen) >>> 0, offset);
      offset += 4;
    };
    const payload = (pid: number, bytes: number) => {
      page.writeUInt16LE(7, offset);
      page.writeInt32LE(pid, offset + 4);
      offset += bytes;
    };
    record(2, 10); // an 8-byte event at +10
    payload(11, 8);
    record(30, 5); // time extend: +5 + (3 << 27)
    page.writeUInt32LE(3, offset);
    offset += 4;
    record(29, 1); // padding (a discarded event): its length after the header, 12 bytes
    page.writeUInt32LE(12, offset);
    offset += 12;
    record(0, 2); // a long record: its length, counting itself, in the next word
    page.writeUInt32LE(4 + 16, offset);
    offset += 4;
    payload(12, 16);
    // 1 << 31: events were lost before this page; 1 << 30: their count follows the data.
    page.writeUInt32LE(((offset - 16) | (1 << 31) | (1 << 30)) >>> 0, 8);
    page.writeBigUInt64LE(42n, offset);
    const events: TraceEvent[] = [];
    const summary = decodePage(page, 3, decoders, 0, Number.POSITIVE_INFINITY, events);
    expect(summary).toEqual({ startNs: 1_000_000, missedBefore: 42 });
    const extended = 1_000_010 + 5 + 3 * 2 ** 27;
    expect(events).toEqual([
      { ts: 1_000_010, cpu: 3, pid: 11, kind: 'kvm-entry' },
      // As the kernel's own reader does, a padding record's delta is not added.
      { ts: extended + 2, cpu: 3, pid: 12, kind: 'kvm-entry' },
    ]);
  });
});

describe('event formats', () => {
  it('give each field its place, strings their kind, and the symbolic tables of the print fmt', () => {
    const text = readFileSync(path.join(EVENTS_DIR, 'irq/irq_handler_entry/format'), 'utf8');
    const format = parseEventFormat('irq', text);
    expect(format.name).toBe('irq_handler_entry');
    expect(format.fields.get('name')).toMatchObject({ location: 'data_loc', isString: true, size: 4 });
    expect(format.fields.get('irq')).toMatchObject({ offset: 8, size: 4, signed: true, isString: false });
    const softirqs = symbolicTables(readFileSync(path.join(EVENTS_DIR, 'irq/softirq_entry/format'), 'utf8'))[0]!;
    expect(softirqs.get(3)).toBe('NET_RX');
    expect(softirqs.get(9)).toBe('RCU');
    const [vmx, svm] = symbolicTables(readFileSync(path.join(EVENTS_DIR, 'kvm/kvm_exit/format'), 'utf8'));
    expect(vmx!.get(12)).toBe('HLT');
    expect(vmx!.get(0x078)).toBeUndefined();
    expect(svm!.get(0x40 + 13)).toBe('GP excp');
    expect(svm!.get(0x078)).toBe('hlt');
  });

  it('are read only for the events asked for; the host watches only the vCPU threads', () => {
    const specs = explainEvents(EVENTS_DIR);
    expect(specs.map((spec) => `${spec.system}:${spec.event}`)).toContain('irq_vectors:local_timer_entry');
    expect(eventDecoders(EVENTS_DIR, specs).size).toBe(8);
    // The kernel keeps only the measuring threads' wake-ups.
    expect(specs.find((spec) => spec.event === 'sched_wakeup')!.filter).toBe('comm ~ "rtlat/*"');
    expect(hostEvents([101, 102]).map((spec) => [spec.event, spec.filter])).toEqual([
      ['sched_switch', undefined],
      ['sched_wakeup', 'pid == 101 || pid == 102'],
      ['kvm_exit', 'common_pid == 101 || common_pid == 102'],
      ['kvm_entry', 'common_pid == 101 || common_pid == 102'],
    ]);
  });

  it('tracing_cpumask is hex in groups of 32 CPUs', () => {
    expect(cpuMaskHex([1])).toBe('00000002');
    expect(cpuMaskHex([0, 1, 2, 3])).toBe('0000000f');
    expect(cpuMaskHex([31])).toBe('80000000');
    expect(cpuMaskHex([0, 33])).toBe('00000002,00000001');
  });
});

describe('rtlat info\'s tracing section', () => {
  it('says whether the kernel has the timerlat tracer, and that --explain does not need it', () => {
    const withTimerlat = formatTracing(path.join(FIXTURES, 'with-timerlat'));
    expect(withTimerlat).toContain('timerlat tracer         available (rtla timerlat runs here)');
    expect(withTimerlat).toContain('timerlat or not');
    expect(formatTracing(path.join(FIXTURES, 'without-timerlat'))).toContain('timerlat tracer         not in this kernel (CONFIG_TIMERLAT_TRACER)');
    expect(formatTracing(EVENTS_DIR)).toContain('timerlat tracer         unknown (');
    expect(formatTracing(null)).toContain('tracefs                 not mounted');
  });
});
