// EDF's processor-demand test with release jitter (Baruah et al. 1990; jitter as in Spuri 1996): a
// job released up to J late must still finish by its deadline, so its deadline is effectively D - J,
// and the set is schedulable iff the demand bound
//   dbf(t) = sum over tasks of max(0, floor((t + J - D_i) / T_i) + 1) C_i
// never exceeds the supply sbf(t), checked at every effective deadline up to a bound L beyond which
// the linear bounds of both settle it.
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
