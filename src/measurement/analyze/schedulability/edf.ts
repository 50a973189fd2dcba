// EDF's processor-demand test with release jitter (Baruah et al. 1990; jitter as in Spuri 1996): a
// job released up to J late must still finish by its deadline, so its deadline is effectively D - J,
// and the set is schedulable iff the demand bound
//   dbf(t) = sum over tasks of max(0, floor((t + J - D_i) / T_i) + 1) C_i
// never exceeds the supply sbf(t), checked at every effective deadline up to a bound L beyond which
// the linear bounds of both settle it. And each task's worst-case response time by Spuri's analysis
// ("Analysis of deadline scheduled real-time systems", INRIA RR-2772, 1996), with jitter.
import type { Supply } from './supply.js';
import type { Task } from './taskset.js';

export interface DemandResult {
  /** False also when the test gave up (`undecided`): a verdict that errs on the safe side. */
  schedulable: boolean;
  /** True when there were more deadlines to check than the test walks. */
  undecided: boolean;
  /** The first window whose demand exceeds the supply, when there is one. */
  failsAtNs: number | null;
  /** How far the test looked. */
  checkedUpToNs: number;
}

/** Deadline points checked at most: beyond, the test gives up rather than run for hours. */
const MAX_POINTS = 10_000_000;
/** Past this the hyperperiod is not computed exactly: the walk gives up long before. */
const MAX_HYPERPERIOD_NS = 1e15;

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function lcm(values: readonly number[]): number {
  let result = 1n;
  for (const value of values) {
    const v = BigInt(Math.round(value));
    result = (result / gcd(result, v)) * v;
    if (result > BigInt(MAX_HYPERPERIOD_NS)) return Infinity;
  }
  return Number(result);
}

export function demandBound(tasks: readonly Task[], jitterNs: number, t: number): number {
  let demand = 0;
  for (const task of tasks) {
    const jobs = Math.floor((t + jitterNs - task.deadlineNs) / task.periodNs) + 1;
    if (jobs > 0) demand += jobs * task.wcetNs;
  }
  return demand;
}

export function edfDemandTest(tasks: readonly Task[], jitterNs: number, supply: Supply): DemandResult {
  const utilisation = tasks.reduce((sum, task) => sum + task.wcetNs / task.periodNs, 0);
  const effectiveDeadlines = tasks.map((task) => task.deadlineNs - jitterNs);
  if (effectiveDeadlines.some((deadline) => deadline <= 0)) return { schedulable: false, undecided: false, failsAtNs: 0, checkedUpToNs: 0 };
  // A share above the supply's fails in the long run, however the test points fall.
  if (utilisation > supply.bandwidth * (1 + 1e-12)) return { schedulable: false, undecided: false, failsAtNs: null, checkedUpToNs: Infinity };
  const longestDeadline = Math.max(...effectiveDeadlines);
  let limit: number;
  if (utilisation < supply.bandwidth * (1 - 1e-12)) {
    // dbf(t) <= U t + sum (T_i - D'_i) U_i and sbf(t) >= bandwidth (t - blackout): past their crossing, demand <= supply.
    const offset = tasks.reduce((sum, task, i) => sum + (task.periodNs - effectiveDeadlines[i]!) * (task.wcetNs / task.periodNs), 0);
    limit = Math.max(longestDeadline, (Math.max(0, offset) + supply.bandwidth * supply.blackoutNs) / (supply.bandwidth - utilisation));
  } else {
    // At full use both sides grow by the same amount every common period: one of them, past the deadlines, settles it.
    limit = lcm([...tasks.map((task) => task.periodNs), supply.periodNs]) + longestDeadline + 2 * supply.periodNs;
  }
  // The deadlines in increasing order, each task's next one kept, so that a failure ends the walk early.
  const next = [...effectiveDeadlines];
  for (let checked = 0; ; checked++) {
    let t = Infinity;
    for (const deadline of next) t = Math.min(t, deadline);
    if (t > limit) return { schedulable: true, undecided: false, failsAtNs: null, checkedUpToNs: limit };
    if (checked >= MAX_POINTS) return { schedulable: false, undecided: true, failsAtNs: null, checkedUpToNs: t };
    if (demandBound(tasks, jitterNs, t) > supply.atLeast(t)) return { schedulable: false, undecided: false, failsAtNs: t, checkedUpToNs: t };
    tasks.forEach((task, i) => {
      if (next[i] === t) next[i] = t + task.periodNs;
    });
  }
}

/** Release offsets examined per task at most by the response-time analysis; beyond, it gives up. */
const MAX_OFFSETS = 200_000;

/** The least fixed point of t = windowFor(demand(t)) from `start`, or null past `limit`. */
function fixedPoint(demand: (t: number) => number, supply: Supply, start: number, limit: number): number | null {
  let t = start;
  for (;;) {
    const next = supply.windowFor(demand(t));
    if (next === t) return t;
    if (!(next <= limit)) return null;
    t = next;
  }
}

/**
 * Worst-case response times under EDF, from each task's nominal release, with every release up to J
 * late (Spuri 1996). The other tasks are released together, J late, at the start of a busy period;
 * the analysed job of task i is released at offset a in it, and the jobs that precede it are those
 * whose deadlines are no later than its own:
 *   L_i(a) = sbf^-1( (1 + floor(a / T_i)) C_i + sum over j != i of min(ceil((t + J) / T_j), 1 + floor((a + D_i - D_j) / T_j)) C_j )
 *   R_i = max over a of max(sbf^-1(C_i), L_i(a) - a) + J,
 * a ranging over the offsets where a term changes (k T_j + D_j - D_i) within the longest busy period.
 * null for every task when the busy period is unbounded, and for a task with too many offsets to examine.
 */
export function edfResponseTimes(tasks: readonly Task[], jitterNs: number, supply: Supply): (number | null)[] {
  const utilisation = tasks.reduce((sum, task) => sum + task.wcetNs / task.periodNs, 0);
  const limit = 1_000 * Math.max(...tasks.map((task) => task.periodNs + task.deadlineNs)) + supply.windowFor(tasks.reduce((sum, task) => sum + task.wcetNs, 0));
  const busyPeriod =
    utilisation > supply.bandwidth * (1 + 1e-12)
      ? null
      : fixedPoint((t) => tasks.reduce((sum, task) => sum + Math.ceil((t + jitterNs) / task.periodNs) * task.wcetNs, 0), supply, supply.windowFor(tasks.reduce((sum, task) => sum + task.wcetNs, 0)), limit);
  if (busyPeriod === null) return tasks.map(() => null);
  return tasks.map((task) => {
    const offsets = new Set<number>([0]);
    for (const other of tasks) {
      const first = Math.max(0, Math.ceil((task.deadlineNs - other.deadlineNs) / other.periodNs));
      for (let k = first; k * other.periodNs + other.deadlineNs - task.deadlineNs < busyPeriod; k++) {
        offsets.add(k * other.periodNs + other.deadlineNs - task.deadlineNs);
        if (offsets.size > MAX_OFFSETS) return null;
      }
    }
    let worst = supply.windowFor(task.wcetNs);
    for (const a of offsets) {
      const own = (1 + Math.floor(a / task.periodNs)) * task.wcetNs;
      const demand = (t: number) => {
        let total = own;
        for (const other of tasks) {
          if (other === task || a + task.deadlineNs < other.deadlineNs) continue;
          total += Math.min(Math.ceil((t + jitterNs) / other.periodNs), 1 + Math.floor((a + task.deadlineNs - other.deadlineNs) / other.periodNs)) * other.wcetNs;
        }
        return total;
      };
      const completion = fixedPoint(demand, supply, supply.windowFor(own), limit);
      if (completion === null) return null;
      worst = Math.max(worst, completion - a);
    }
    return worst + jitterNs;
  });
}
