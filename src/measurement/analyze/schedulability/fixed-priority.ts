// Fixed-priority response-time analysis with release jitter and blocking (Audsley et al. 1993,
// Tindell's jitter form): the window w_i is the least fixed point of
//   w = sbf^-1( C_i + B_i + sum over higher priorities j of ceil((w + J) / T_j) C_j )
// and R_i = w_i + J. On a dedicated CPU sbf^-1 is the identity; on a periodic resource it is the
// shortest window sure to supply that much. Tasks of equal priority count as higher (no order among
// them is assumed). Deadlines are at most the period, so a schedulable task has one job in each
// window; a response past the period would queue the next job behind it, which this analysis does
// not follow, so it is reported as unbounded rather than as a number too small.
import type { Supply } from './supply.js';
import type { Task } from './taskset.js';

/** R_i, or null when it is beyond the task's period (or the higher priorities use all of the supply). */
export function fixedPriorityResponseTime(task: Task, tasks: readonly Task[], jitterNs: number, supply: Supply): number | null {
  const interfering = tasks.filter((other) => other !== task && other.priority! >= task.priority!);
  // Beyond this the window is only computed to report how late the task is: a bound keeps it finite.
  const limit = 1_000 * Math.max(task.deadlineNs, ...tasks.map((other) => other.periodNs)) + supply.windowFor(task.wcetNs + task.blockingNs);
  let window = supply.windowFor(task.wcetNs + task.blockingNs + interfering.reduce((sum, other) => sum + other.wcetNs, 0));
  for (;;) {
    const demand = task.wcetNs + task.blockingNs + interfering.reduce((sum, other) => sum + Math.ceil((window + jitterNs) / other.periodNs) * other.wcetNs, 0);
    const next = supply.windowFor(demand);
    if (next === window) return window + jitterNs <= task.periodNs ? window + jitterNs : null;
    if (next > limit) return null;
    window = next;
  }
}
