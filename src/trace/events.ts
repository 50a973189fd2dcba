// The kernel events rtlat reads, decoded from their raw records into plain objects. Only the standard
// tracepoints (sched, irq, irq_vectors, kvm): no timerlat or osnoise tracer is needed.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { numberField, parseEventFormat, stringField, symbolicTables, type EventFormat } from './event-format.js';

interface Recorded {
  /** Trace clock time (the instance's trace_clock: mono, so CLOCK_MONOTONIC), in ns. */
  ts: number;
  cpu: number;
  /** The task that was current on the CPU when the event was recorded (common_pid; 0: idle). */
  pid: number;
}

export interface SwitchEvent extends Recorded {
  kind: 'switch';
  prevPid: number;
  prevComm: string;
  /** Kernel priority: 0-99 real-time (99 - rtprio), 100-139 normal (120 + nice), -1 deadline. */
  prevPrio: number;
  /** It was still runnable when it left the CPU (preempted, or yielding): prev_state "R" or "R+". */
  prevRunnable: boolean;
  nextPid: number;
  nextComm: string;
  nextPrio: number;
}

export interface WakeupEvent extends Recorded {
  kind: 'wakeup';
  wokenPid: number;
  comm: string;
  prio: number;
}

export interface IrqEvent extends Recorded {
  kind: 'irq-entry' | 'irq-exit';
  irq: number;
  /** The handler's name (irq_handler_entry only; "" on exits). */
  name: string;
}

export interface SoftirqEvent extends Recorded {
  kind: 'softirq-entry' | 'softirq-exit';
  /** NET_RX, TIMER, RCU, ... */
  name: string;
}

/** irq_vectors' entry and exit of a system vector: local_timer, reschedule, call_function, irq_work, ... */
export interface VectorEvent extends Recorded {
  kind: 'vector-entry' | 'vector-exit';
  vector: string;
}

export interface KvmExitEvent extends Recorded {
  kind: 'kvm-exit';
  reason: string;
}

export interface KvmEntryEvent extends Recorded {
  kind: 'kvm-entry';
}

export type TraceEvent = SwitchEvent | WakeupEvent | IrqEvent | SoftirqEvent | VectorEvent | KvmExitEvent | KvmEntryEvent;

export interface EventSpec {
  system: string;
  event: string;
  filter?: string;
}

/** What the attribution of a late wake-up reads (src/measurement/explain/). */
export function explainEvents(eventsDir: string): EventSpec[] {
  const vectors = readdirOrEmpty(path.join(eventsDir, 'irq_vectors'))
    .filter((name) => name.endsWith('_entry'))
    .map((name) => name.slice(0, -'_entry'.length))
    .filter((vector) => readdirOrEmpty(path.join(eventsDir, 'irq_vectors')).includes(`${vector}_exit`));
  return [
    { system: 'sched', event: 'sched_switch' },
    // Only the measuring threads' (the engine names them rtlat/N): the switches say the rest.
    { system: 'sched', event: 'sched_wakeup', filter: 'comm ~ "rtlat/*"' },
    { system: 'irq', event: 'irq_handler_entry' },
    { system: 'irq', event: 'irq_handler_exit' },
    { system: 'irq', event: 'softirq_entry' },
    { system: 'irq', event: 'softirq_exit' },
    ...vectors.flatMap((vector) => [
      { system: 'irq_vectors', event: `${vector}_entry` },
      { system: 'irq_vectors', event: `${vector}_exit` },
    ]),
  ];
}

/**
 * What the host's view of a guest reads: every switch on the CPUs traced (to name who held them), the
 * vCPU threads' wake-ups and, under KVM, their exits.
 */
export function hostEvents(vcpuTids: readonly number[]): EventSpec[] {
  const pids = (field: string) => vcpuTids.map((tid) => `${field} == ${tid}`).join(' || ');
  return [
    { system: 'sched', event: 'sched_switch' },
    { system: 'sched', event: 'sched_wakeup', filter: pids('pid') },
    { system: 'kvm', event: 'kvm_exit', filter: pids('common_pid') },
    { system: 'kvm', event: 'kvm_entry', filter: pids('common_pid') },
  ];
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Decodes the record at `start`, recorded at `ts` on `cpu` while `pid` was current. */
export type Decode = (page: Buffer, start: number, ts: number, cpu: number, pid: number) => TraceEvent;

/** Decoders by event ID for the events in `specs` found under `eventsDir`. */
export function eventDecoders(eventsDir: string, specs: readonly EventSpec[]): Map<number, Decode> {
  const decoders = new Map<number, Decode>();
  for (const spec of specs) {
    let text: string;
    try {
      text = readFileSync(path.join(eventsDir, spec.system, spec.event, 'format'), 'utf8');
    } catch {
      continue;
    }
    const format = parseEventFormat(spec.system, text);
    decoders.set(format.id, decoderFor(format, text));
  }
  return decoders;
}

/**
 * The bits of sched_switch's prev_state that are task states, from its print fmt's flag table
 * ({ 0x01, "S" } ... { 0x80, "I" }): none set is "R"; a bit above them marks a preemption ("R+").
 */
function taskStateMask(text: string): number {
  const flags = [...(/^print fmt:(.*)$/m.exec(text)?.[1] ?? '').matchAll(/\{\s*(0x[0-9a-f]+|\d+)\s*,\s*"\w"\s*\}/gi)].map((match) => Number(match[1]));
  const highest = Math.max(0, ...flags);
  // Kernels since 4.14: states up to TASK_REPORT_IDLE (0x80), preemption at 0x100.
  return highest > 0 ? highest * 2 - 1 : 0xff;
}

function decoderFor(format: EventFormat, text: string): Decode {
  const key = `${format.system}:${format.name}`;
  if (key === 'sched:sched_switch') {
    const [prevPid, prevPrio, prevState, nextPid, nextPrio] = ['prev_pid', 'prev_prio', 'prev_state', 'next_pid', 'next_prio'].map((name) => numberField(format, name));
    const [prevComm, nextComm] = ['prev_comm', 'next_comm'].map((name) => stringField(format, name));
    const stateMask = taskStateMask(text);
    return (page, start, ts, cpu, pid) => ({
      ts,
      cpu,
      pid,
      kind: 'switch',
      prevPid: prevPid!(page, start),
      prevComm: prevComm!(page, start),
      prevPrio: prevPrio!(page, start),
      prevRunnable: (prevState!(page, start) & stateMask) === 0,
      nextPid: nextPid!(page, start),
      nextComm: nextComm!(page, start),
      nextPrio: nextPrio!(page, start),
    });
  }
  if (key === 'sched:sched_wakeup') {
    const [woken, prio] = ['pid', 'prio'].map((name) => numberField(format, name));
    const comm = stringField(format, 'comm');
    return (page, start, ts, cpu, pid) => ({ ts, cpu, pid, kind: 'wakeup', wokenPid: woken!(page, start), comm: comm(page, start), prio: prio!(page, start) });
  }
  if (key === 'irq:irq_handler_entry' || key === 'irq:irq_handler_exit') {
    const irq = numberField(format, 'irq');
    if (key === 'irq:irq_handler_exit') return (page, start, ts, cpu, pid) => ({ ts, cpu, pid, kind: 'irq-exit', irq: irq(page, start), name: '' });
    const name = stringField(format, 'name');
    return (page, start, ts, cpu, pid) => ({ ts, cpu, pid, kind: 'irq-entry', irq: irq(page, start), name: name(page, start) });
  }
  if (key === 'irq:softirq_entry' || key === 'irq:softirq_exit') {
    const vec = numberField(format, 'vec');
    const names = symbolicTables(text)[0] ?? new Map<number, string>();
    const kind = key === 'irq:softirq_entry' ? 'softirq-entry' : 'softirq-exit';
    return (page, start, ts, cpu, pid) => {
      const value = vec(page, start);
      return { ts, cpu, pid, kind, name: names.get(value) ?? `softirq ${value}` };
    };
  }
  if (format.system === 'irq_vectors') {
    const entry = format.name.endsWith('_entry');
    const vector = format.name.slice(0, format.name.lastIndexOf('_'));
    const kind = entry ? 'vector-entry' : 'vector-exit';
    return (_page, _start, ts, cpu, pid) => ({ ts, cpu, pid, kind, vector });
  }
  if (key === 'kvm:kvm_exit') {
    const reason = numberField(format, 'exit_reason');
    const isa = format.fields.has('isa') ? numberField(format, 'isa') : () => 1;
    // The print fmt's first table names VMX exits (isa 1), the second SVM's (isa 2).
    const [vmx = new Map<number, string>(), svm = new Map<number, string>()] = symbolicTables(text);
    return (page, start, ts, cpu, pid) => {
      const value = reason(page, start);
      const vmxExit = isa(page, start) === 1;
      return { ts, cpu, pid, kind: 'kvm-exit', reason: (vmxExit ? vmx.get(value & 0xffff) : svm.get(value)) ?? `exit ${value}` };
    };
  }
  if (key === 'kvm:kvm_entry') return (_page, _start, ts, cpu, pid) => ({ ts, cpu, pid, kind: 'kvm-entry' });
  throw new Error(`rtlat: no decoder for the ${key} event`);
}
