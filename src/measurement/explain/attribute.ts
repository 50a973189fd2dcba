// One late wake-up, split along the trace of its CPU from its due time to the moment the thread read
// the clock: what the CPU was doing at each instant, named the way rtla's timerlat auto-analysis names
// it. The segments partition [due, woke] exactly, so the parts add up to the latency by construction.
//
//   due ── IRQ handler delay ──> timer IRQ ── Timer IRQ duration ──> ── scheduling ──> woke
//          (IRQ interference:            (the handler that              IRQ/Softirq interference,
//           a handler holding            woke the thread)               Blocking thread (a lower-priority
//           interrupts off)                                             task not giving the CPU up: L2),
//                                                                       Thread interference (higher or equal
//                                                                       priority: I), Context switch and return
import type { ExplainPart, ExplainSegment } from '../../run-file/schema.js';
import type { TraceEvent } from '../../trace/events.js';

export interface WakeupToExplain {
  tid: number;
  /** The measuring thread's kernel priority (0-99 real-time, 100-139 normal, -1 deadline). */
  prio: number;
  /** Due time and latency on the trace's clock (CLOCK_MONOTONIC), ns. */
  dueNs: number;
  latencyNs: number;
}

/** What is known of a task by its pid, beyond the window's own events. */
export type TaskLookup = (pid: number) => { comm: string; prio: number | null } | null;

export interface Attribution {
  segments: ExplainSegment[];
  /** What the window (or the lookup) said of each task it showed. */
  tasks: Map<number, { comm: string; prio: number | null }>;
  /** The tasks the segments name, by their culprit text. */
  culpritPids: Map<string, number>;
}

type FrameKind = 'irq' | 'vector' | 'softirq';

/** A handler's run on the CPU, from its entry event to its exit event (-1: outside the window). */
interface Frame {
  kind: FrameKind;
  culprit: string;
  irq: number | null;
  entryIndex: number;
  exitIndex: number;
}

/** How far an event of the wake-up may read earlier than the due time: the trace clock and clock_gettime's own disagreement. */
const CLOCK_SLACK_NS = 2_000;

function describeFrame(event: TraceEvent, irqNames: ReadonlyMap<number, string>): Omit<Frame, 'entryIndex' | 'exitIndex'> | null {
  switch (event.kind) {
    case 'irq-entry':
    case 'irq-exit': {
      const name = event.kind === 'irq-entry' ? event.name : irqNames.get(event.irq);
      return { kind: 'irq', culprit: `irq ${event.irq}${name ? ` ${name}` : ''}`, irq: event.irq };
    }
    case 'vector-entry':
    case 'vector-exit':
      return { kind: 'vector', culprit: event.vector, irq: null };
    case 'softirq-entry':
    case 'softirq-exit':
      return { kind: 'softirq', culprit: event.name, irq: null };
    default:
      return null;
  }
}

const isEntry = (event: TraceEvent) => event.kind === 'irq-entry' || event.kind === 'vector-entry' || event.kind === 'softirq-entry';

/**
 * Pairs every handler entry with its exit. An exit without an entry closes a handler that was already
 * running when the window began; such handlers are returned outermost first, open from the start.
 */
function nestFrames(events: readonly TraceEvent[], irqNames: ReadonlyMap<number, string>) {
  const opened = new Map<number, Frame>();
  const closed = new Map<number, Frame>();
  const openAtStart: Frame[] = [];
  const stack: Frame[] = [];
  events.forEach((event, index) => {
    const described = describeFrame(event, irqNames);
    if (!described) return;
    if (isEntry(event)) {
      const frame = { ...described, entryIndex: index, exitIndex: -1 };
      stack.push(frame);
      opened.set(index, frame);
      return;
    }
    let at = stack.length - 1;
    while (at >= 0 && !(stack[at]!.kind === described.kind && (described.kind === 'irq' ? stack[at]!.irq === described.irq : stack[at]!.culprit === described.culprit))) at--;
    const frame = at >= 0 ? stack.splice(at, 1)[0]! : { ...described, entryIndex: -1, exitIndex: index };
    frame.exitIndex = index;
    if (at < 0) openAtStart.unshift(frame);
    closed.set(index, frame);
  });
  return { opened, closed, openAtStart };
}

/**
 * Splits the wake-up's latency along `events`: the window of its CPU's trace (oldest first) from
 * somewhat before its due time to somewhat after it woke.
 */
export function attributeWakeup(events: readonly TraceEvent[], wakeup: WakeupToExplain, lookup: TaskLookup): Attribution {
  const dueNs = wakeup.dueNs;
  const wokeNs = dueNs + wakeup.latencyNs;
  const { tid } = wakeup;

  // What the window says of each task and each IRQ line.
  const tasks = new Map<number, { comm: string; prio: number | null }>();
  const irqNames = new Map<number, string>();
  for (const event of events) {
    if (event.kind === 'switch') {
      tasks.set(event.prevPid, { comm: event.prevComm, prio: event.prevPrio });
      tasks.set(event.nextPid, { comm: event.nextComm, prio: event.nextPrio });
    } else if (event.kind === 'wakeup') tasks.set(event.wokenPid, { comm: event.comm, prio: event.prio });
    else if (event.kind === 'irq-entry') irqNames.set(event.irq, event.name);
  }
  const threadPrio = tasks.get(tid)?.prio ?? wakeup.prio;
  const { opened, closed, openAtStart } = nestFrames(events, irqNames);

  // The wake-up: the thread's last sched_wakeup before it woke ...
  let wakeIndex = -1;
  for (let i = 0; i < events.length && events[i]!.ts <= wokeNs; i++) {
    const event = events[i]!;
    if (event.kind === 'wakeup' && event.wokenPid === tid && event.ts >= dueNs - CLOCK_SLACK_NS) wakeIndex = i;
  }
  // ... unless it had been preempted rather than asleep when it fell due: runnable all along. The
  // window shows that by the thread leaving its CPU runnable before the due time, or, where it does not
  // reach back that far, by the thread getting the CPU with no wake-up at all.
  let runnableAtDue = false;
  for (const event of events) {
    if (event.ts >= dueNs) break;
    if (event.kind === 'switch' && event.prevPid === tid) runnableAtDue = event.prevRunnable;
    if (event.kind === 'switch' && event.nextPid === tid) runnableAtDue = false;
  }
  if (wakeIndex < 0 && events.some((event) => event.kind === 'switch' && event.nextPid === tid && event.ts >= dueNs && event.ts <= wokeNs)) runnableAtDue = true;
  if (runnableAtDue) wakeIndex = -1;

  // The handler the wake-up happened in (the timer's interrupt, normally): the innermost open at it.
  let wakeFrame: Frame | null = null;
  if (wakeIndex >= 0) {
    const stack = [...openAtStart];
    for (let i = 0; i < wakeIndex; i++) {
      if (opened.has(i)) stack.push(opened.get(i)!);
      if (closed.has(i)) stack.splice(stack.indexOf(closed.get(i)!), 1);
    }
    wakeFrame = stack.at(-1) ?? null;
  }

  const segments: ExplainSegment[] = [];
  const add = (part: ExplainPart, fromNs: number, toNs: number, culprit: string | null) => {
    const start = Math.max(fromNs, dueNs);
    const end = Math.min(toNs, wokeNs);
    if (end <= start) return;
    const last = segments.at(-1);
    if (last && last.part === part && last.culprit === culprit && last.offsetNs + last.ns === start - dueNs) last.ns += end - start;
    else segments.push({ part, offsetNs: start - dueNs, ns: end - start, culprit });
  };
  const culpritPids = new Map<string, number>();
  const taskCulprit = (pid: number) => {
    const known = tasks.get(pid) ?? lookup(pid);
    if (known) tasks.set(pid, known);
    const culprit = known ? `${known.comm} (pid ${pid})` : `pid ${pid}`;
    culpritPids.set(culprit, pid);
    return culprit;
  };

  const stack = [...openAtStart];
  let current = events.find((event) => event.ts >= dueNs)?.pid ?? events.at(-1)?.pid ?? -1;
  let passedWake = false;
  /** What the CPU was doing in [fromNs, toNs), by the state the events so far left. */
  const classify = (fromNs: number, toNs: number) => {
    if (wakeIndex < 0 && !runnableAtDue) return add('unexplained', fromNs, toNs, null);
    if (wakeFrame && stack.includes(wakeFrame)) return add('timerIrq', fromNs, toNs, wakeFrame.culprit);
    const top = stack.at(-1);
    if (!runnableAtDue && !passedWake) {
      // Waiting for the timer: a hard interrupt handler running holds the timer's interrupt off.
      if (top && top.kind !== 'softirq') return add('irqInterference', fromNs, toNs, top.culprit);
      return add('irqHandlerDelay', fromNs, toNs, null);
    }
    if (top) return add(top.kind === 'softirq' ? 'softirqInterference' : 'irqInterference', fromNs, toNs, top.culprit);
    // Some kernels do not trace the idle task's switch to the thread: it counts as the switch itself.
    if (current === tid || current === 0) return add('contextSwitch', fromNs, toNs, null);
    const prio = (tasks.get(current) ?? lookup(current))?.prio ?? null;
    // A task of higher or equal priority ran by right (interference); a lower one held on to the CPU (blocking).
    return add(prio !== null && prio <= threadPrio ? 'threadInterference' : 'blockingThread', fromNs, toNs, taskCulprit(current));
  };

  let cursor = dueNs;
  for (let index = 0; index < events.length && events[index]!.ts <= wokeNs; index++) {
    const event = events[index]!;
    if (event.ts > cursor) {
      classify(cursor, event.ts);
      cursor = event.ts;
    }
    if (opened.has(index)) stack.push(opened.get(index)!);
    if (closed.has(index)) stack.splice(stack.indexOf(closed.get(index)!), 1);
    current = event.kind === 'switch' ? event.nextPid : event.pid;
    if (index === wakeIndex) passedWake = true;
  }
  classify(cursor, wokeNs);
  return { segments, tasks, culpritPids };
}
