// Is the task set schedulable when every release can be `latencyNs` late? Each task's response time
// and slack (fixed priority), the set's verdict, the largest latency it tolerates (J*, by bisection)
// and, on a vCPU, the smallest budget that keeps it schedulable at the vCPU's period.
import { edfDemandTest, edfResponseTimes } from './edf.js';
import { fixedPriorityResponseTime } from './fixed-priority.js';
import { DEDICATED_CPU, periodicResourceSupply, type Supply } from './supply.js';
import type { PeriodicResource, TaskSet } from './taskset.js';

export interface TaskVerdict {
  name: string;
  wcetNs: number;
  periodNs: number;
  deadlineNs: number;
  priority: number | null;
  /** Worst-case response time from the nominal release; null when unbounded (or, under EDF, too costly to compute). */
  responseTimeNs: number | null;
  /** deadline - response time; null with it. */
  slackNs: number | null;
  schedulable: boolean;
}

export interface SchedulabilityResult {
  scheduler: TaskSet['scheduler'];
  utilisation: number;
  /** The release latency applied as jitter to every task. */
  latencyBoundNs: number;
  schedulable: boolean;
  tasks: TaskVerdict[];
  /** The largest latency with which the set stays schedulable (J*); null when it is not even without latency. */
  toleratedLatencyNs: number | null;
  /** J* - the latency bound; negative when the bound is more than the set tolerates. */
  marginNs: number | null;
  vcpu: (PeriodicResource & { bandwidth: number }) | null;
  /** The smallest vCPU budget, at its period, with which the set stays schedulable at this latency; null without a vCPU or when even a full budget is not enough. */
  minimumBudgetNs: number | null;
  /** Under EDF: the first window whose demand exceeded the supply. */
  demandFailsAtNs: number | null;
  /** Under EDF: the demand test had more deadlines to check than it walks, and says "not schedulable" to be safe. */
  undecided: boolean;
}

function verdicts(taskSet: TaskSet, latencyNs: number, supply: Supply): { tasks: TaskVerdict[]; schedulable: boolean; demandFailsAtNs: number | null; undecided: boolean } {
  const describe = (task: TaskSet['tasks'][number]) => ({ name: task.name, wcetNs: task.wcetNs, periodNs: task.periodNs, deadlineNs: task.deadlineNs, priority: task.priority });
  if (taskSet.scheduler === 'edf') {
    // The demand test decides the set; the response times say how close each task comes.
    const demand = edfDemandTest(taskSet.tasks, latencyNs, supply);
    const responseTimes = edfResponseTimes(taskSet.tasks, latencyNs, supply);
    return {
      tasks: taskSet.tasks.map((task, i) => {
        const responseTimeNs = responseTimes[i]!;
        const slackNs = responseTimeNs === null ? null : task.deadlineNs - responseTimeNs;
        return { ...describe(task), responseTimeNs, slackNs, schedulable: slackNs === null ? demand.schedulable : slackNs >= 0 };
      }),
      schedulable: demand.schedulable,
      demandFailsAtNs: demand.failsAtNs,
      undecided: demand.undecided,
    };
  }
  const tasks = taskSet.tasks.map((task) => {
    const responseTimeNs = fixedPriorityResponseTime(task, taskSet.tasks, latencyNs, supply);
    return {
      ...describe(task),
      responseTimeNs,
      slackNs: responseTimeNs === null ? null : task.deadlineNs - responseTimeNs,
      schedulable: responseTimeNs !== null && responseTimeNs <= task.deadlineNs,
    };
  });
  return { tasks, schedulable: tasks.every((task) => task.schedulable), demandFailsAtNs: null, undecided: false };
}

/** The verdict alone, for the searches: under EDF the demand test, without the response times. */
function isSchedulable(taskSet: TaskSet, latencyNs: number, supply: Supply): boolean {
  if (taskSet.scheduler === 'edf') return edfDemandTest(taskSet.tasks, latencyNs, supply).schedulable;
  return verdicts(taskSet, latencyNs, supply).schedulable;
}

/** The largest whole-ns x in [low, high] with `holds(x)`, for `holds` true up to some point and false after; null when not even at low. */
function largestHolding(holds: (x: number) => boolean, low: number, high: number): number | null {
  if (!holds(low)) return null;
  if (holds(high)) return high;
  let yes = low;
  let no = high;
  while (no - yes > 1) {
    const middle = Math.floor((yes + no) / 2);
    if (holds(middle)) yes = middle;
    else no = middle;
  }
  return yes;
}

function supplyOf(taskSet: TaskSet): Supply {
  return taskSet.vcpu ? periodicResourceSupply(taskSet.vcpu) : DEDICATED_CPU;
}

export function analyseTaskSet(taskSet: TaskSet, latencyNs: number): SchedulabilityResult {
  const supply = supplyOf(taskSet);
  const { tasks, schedulable, demandFailsAtNs, undecided } = verdicts(taskSet, latencyNs, supply);
  // No latency at or beyond the longest deadline can be tolerated: the search ends there.
  const longestDeadline = Math.max(...taskSet.tasks.map((task) => task.deadlineNs));
  const toleratedLatencyNs = largestHolding((j) => isSchedulable(taskSet, j, supply), 0, longestDeadline);
  let minimumBudgetNs: number | null = null;
  if (taskSet.vcpu) {
    const { periodNs } = taskSet.vcpu;
    // More budget never supplies less, so the least budget that works is found by bisection too.
    const largestFailing = largestHolding((budget) => !isSchedulable(taskSet, latencyNs, periodicResourceSupply({ periodNs, budgetNs: budget })), 0, periodNs);
    minimumBudgetNs = largestFailing === null ? 0 : largestFailing === periodNs ? null : largestFailing + 1;
  }
  return {
    scheduler: taskSet.scheduler,
    utilisation: taskSet.tasks.reduce((sum, task) => sum + task.wcetNs / task.periodNs, 0),
    latencyBoundNs: latencyNs,
    schedulable,
    tasks,
    toleratedLatencyNs,
    marginNs: toleratedLatencyNs === null ? null : toleratedLatencyNs - latencyNs,
    vcpu: taskSet.vcpu ? { ...taskSet.vcpu, bandwidth: supply.bandwidth } : null,
    minimumBudgetNs,
    demandFailsAtNs,
    undecided,
  };
}
