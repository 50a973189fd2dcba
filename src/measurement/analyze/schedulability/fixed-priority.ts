// Fixed-priority response-time analysis with release jitter and blocking (Audsley et al. 1993,
// Tindell's jitter form), for deadlines up to and past the period (Lehoczky 1990; Tindell, Burns and
// Wellings 1994): over the level-i busy period, the window of its job q (from 0) is the least fixed
// point of
//   w = sbf^-1( (q + 1) C_i + B_i + sum over higher priorities j of ceil((w + J) / T_j) C_j )
// and that job's response is R_i(q) = w_i(q) - q T_i + J. The busy period ends with the first job done
// before the next can be released (w_i(q) <= (q + 1) T_i - J), and R_i is the largest R_i(q): for a task
// done within its period, the first job's alone. On a dedicated CPU sbf^-1 is the identity; on a
// periodic resource it is the shortest window sure to supply that much. Tasks of equal priority count
// as higher (no order among them is assumed).
import type { Supply } from './supply.js';
import type { Task } from './taskset.js';

/** R_i, or null when the busy period does not end (the priorities at or above the task's use all of the supply). */
export function fixedPriorityResponseTime(task: Task, tasks: readonly Task[], jitterNs: number, supply: Supply): number | null {
  const interfering = tasks.filter((other) => other !== task && other.priority! >= task.priority!);
  // A busy period longer than this is taken as one that does not end: a bound keeps the search finite.
  const limit = 1_000 * Math.max(task.deadlineNs, ...tasks.map((other) => other.periodNs)) + supply.windowFor(task.wcetNs + task.blockingNs);
  let window = supply.windowFor(task.wcetNs + task.blockingNs + interfering.reduce((sum, other) => sum + other.wcetNs, 0));
  let worst = 0;
  for (let job = 0; ; job++) {
    // Each job's window starts from the one before: the demand only grows with q.
    const own = (job + 1) * task.wcetNs + task.blockingNs;
    for (;;) {
      const demand = own + interfering.reduce((sum, other) => sum + Math.ceil((window + jitterNs) / other.periodNs) * other.wcetNs, 0);
      const next = supply.windowFor(demand);
      // Past the bound, or a supply that never gives that much (a vCPU of no budget): no end.
      if (next > limit || next === Infinity) return null;
      if (next === window) break;
      window = next;
    }
    worst = Math.max(worst, window - job * task.periodNs + jitterNs);
    if (window <= (job + 1) * task.periodNs - jitterNs) return worst;
  }
}
