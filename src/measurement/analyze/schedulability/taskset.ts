// The task set of `rtlat analyze --taskset`: JSON with durations as strings with units, read with
// rtlat's one duration parser. docs/taskset.schema.json documents it; a bad field is one InputError
// naming the file and the field.
import { InputError, OptionError } from '../../../errors.js';
import { NS_PER_S, parseDurationNs, type DurationRule } from '../../../units.js';

export type Scheduler = 'fixed-priority' | 'edf';

export interface Task {
  name: string;
  wcetNs: number;
  periodNs: number;
  /** Relative deadline; the period when not given. */
  deadlineNs: number;
  /** Fixed priority: a higher number is more urgent. null under EDF. */
  priority: number | null;
  /** The longest a lower-priority task can block it (a non-preemptive section); 0 when not given. */
  blockingNs: number;
}

/** A vCPU as a periodic resource (Shin and Lee 2003): `budgetNs` of CPU in every `periodNs`. */
export interface PeriodicResource {
  periodNs: number;
  budgetNs: number;
}

export interface TaskSet {
  scheduler: Scheduler;
  tasks: Task[];
  vcpu: PeriodicResource | null;
}

/** Task durations: ns to an hour; a bare number is us, as for rtlat's other latencies. */
export const TASK_DURATION_RULE: DurationRule = { units: ['ns', 'us', 'ms', 's'], bareUnit: 'us', minNs: 1, maxNs: 3_600 * NS_PER_S };

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rejectUnknown(file: string, where: string, value: Json, known: readonly string[]): void {
  const unknown = Object.keys(value).find((key) => !known.includes(key));
  if (unknown !== undefined) throw new InputError(file, `${where}${unknown}: unknown field; accepted: ${known.join(', ')}`);
}

function duration(file: string, field: string, value: unknown, rule: DurationRule = TASK_DURATION_RULE): number {
  if (typeof value !== 'string') throw new InputError(file, `${field}: got ${JSON.stringify(value)}, expected a duration string with a unit, e.g. "1ms"`);
  try {
    return parseDurationNs(field, value, rule);
  } catch (error) {
    if (error instanceof OptionError) throw new InputError(file, error.message);
    throw error;
  }
}

const TASK_FIELDS = ['name', 'wcet', 'period', 'deadline', 'priority', 'blocking'] as const;

/** Parses the task set in `text`, read from `file` (named in every message). */
export function parseTaskSet(file: string, text: string): TaskSet {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new InputError(file, `not JSON (${(error as Error).message})`);
  }
  if (!isObject(data)) throw new InputError(file, 'expected an object with "tasks"');
  rejectUnknown(file, '', data, ['$schema', 'tasks', 'scheduler', 'vcpu']);
  const tasksValue = data['tasks'];
  if (!Array.isArray(tasksValue) || tasksValue.length === 0) throw new InputError(file, `tasks: got ${JSON.stringify(tasksValue)}, expected a non-empty array of tasks`);

  const names = new Set<string>();
  const tasks = tasksValue.map((value, index): Task => {
    const at = `tasks[${index}]`;
    if (!isObject(value)) throw new InputError(file, `${at}: got ${JSON.stringify(value)}, expected an object with wcet and period`);
    rejectUnknown(file, `${at}.`, value, TASK_FIELDS);
    const name = value['name'] ?? `task${index}`;
    if (typeof name !== 'string' || name === '') throw new InputError(file, `${at}.name: got ${JSON.stringify(name)}, expected a non-empty string`);
    if (names.has(name)) throw new InputError(file, `${at}.name: "${name}" is used twice; task names must differ`);
    names.add(name);
    const wcetNs = duration(file, `${at}.wcet`, value['wcet']);
    const periodNs = duration(file, `${at}.period`, value['period']);
    const deadlineNs = value['deadline'] === undefined ? periodNs : duration(file, `${at}.deadline`, value['deadline']);
    const blockingNs = value['blocking'] === undefined ? 0 : duration(file, `${at}.blocking`, value['blocking'], { ...TASK_DURATION_RULE, allowZero: true });
    const priority = value['priority'] ?? null;
    if (priority !== null && !Number.isSafeInteger(priority)) throw new InputError(file, `${at}.priority: got ${JSON.stringify(priority)}, expected a whole number (higher is more urgent)`);
    if (wcetNs > deadlineNs) throw new InputError(file, `${at}.wcet: ${value['wcet']} is longer than its deadline ${value['deadline'] ?? value['period']}; no such task can be schedulable`);
    return { name, wcetNs, periodNs, deadlineNs, priority: priority as number | null, blockingNs };
  });

  const withPriority = tasks.filter((task) => task.priority !== null).length;
  const schedulerValue = data['scheduler'] ?? (withPriority > 0 ? 'fixed-priority' : 'edf');
  if (schedulerValue !== 'fixed-priority' && schedulerValue !== 'edf') {
    throw new InputError(file, `scheduler: got ${JSON.stringify(schedulerValue)}, expected "fixed-priority" or "edf"`);
  }
  const scheduler: Scheduler = schedulerValue;
  if (scheduler === 'fixed-priority') {
    const missing = tasks.findIndex((task) => task.priority === null);
    if (missing >= 0) throw new InputError(file, `tasks[${missing}].priority: missing; every task needs one under "fixed-priority" (higher is more urgent)`);
  } else {
    const blocked = tasks.findIndex((task) => task.blockingNs > 0);
    if (blocked >= 0) throw new InputError(file, `tasks[${blocked}].blocking: given under "edf"; blocking is for "fixed-priority"`);
  }

  let vcpu: PeriodicResource | null = null;
  const vcpuValue = data['vcpu'];
  if (vcpuValue !== undefined) {
    if (!isObject(vcpuValue)) throw new InputError(file, `vcpu: got ${JSON.stringify(vcpuValue)}, expected an object with period and budget`);
    rejectUnknown(file, 'vcpu.', vcpuValue, ['period', 'budget']);
    const periodNs = duration(file, 'vcpu.period', vcpuValue['period']);
    const budgetNs = duration(file, 'vcpu.budget', vcpuValue['budget']);
    if (budgetNs > periodNs) throw new InputError(file, `vcpu.budget: ${vcpuValue['budget']} is more than its period ${vcpuValue['period']}`);
    vcpu = { periodNs, budgetNs };
  }
  return { scheduler, tasks, vcpu };
}
