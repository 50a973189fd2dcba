// How much CPU a task set is sure to get in any window of length t: all of it on a dedicated CPU, and
// on a vCPU modelled as a periodic resource (Pi, Theta) the supply bound function of Shin and Lee
// ("Periodic resource model for compositional real-time guarantees", RTSS 2003): the worst case is a
// budget given at the start of one period and at the end of the next, a blackout of 2 (Pi - Theta).
import type { PeriodicResource } from './taskset.js';

export interface Supply {
  /** The least supply in any window of length t (sbf). */
  atLeast(t: number): number;
  /** The shortest window sure to supply `amount` (the least t with sbf(t) >= amount). */
  windowFor(amount: number): number;
  /** Long-run share of the CPU. */
  bandwidth: number;
  /** The longest window with no supply: sbf(t) >= bandwidth (t - blackout). */
  blackoutNs: number;
  /** The period after which the supply repeats (1 for a dedicated CPU). */
  periodNs: number;
}

export const DEDICATED_CPU: Supply = { atLeast: (t) => Math.max(0, t), windowFor: (amount) => Math.max(0, amount), bandwidth: 1, blackoutNs: 0, periodNs: 1 };

export function periodicResourceSupply({ periodNs, budgetNs }: PeriodicResource): Supply {
  const gap = periodNs - budgetNs;
  return {
    atLeast(t) {
      if (t <= 0) return 0;
      const k = Math.max(Math.ceil((t - gap) / periodNs), 1);
      const start = (k + 1) * periodNs - 2 * budgetNs;
      return t >= start && t <= start + budgetNs ? t - (k + 1) * gap : (k - 1) * budgetNs;
    },
    windowFor(amount) {
      if (amount <= 0) return 0;
      // Each budget of Theta comes after a gap; the first after two (the blackout).
      return amount + (Math.ceil(amount / budgetNs) + 1) * gap;
    },
    bandwidth: budgetNs / periodNs,
    blackoutNs: 2 * gap,
    periodNs,
  };
}
