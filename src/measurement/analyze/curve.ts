// The exceedance plot's data: 1 - CDF of the latency on log axes, as observed (the largest latencies
// kept, each at its empirical exceedance probability), as the fitted generalized Pareto tail gives it,
// and the fit's profile-likelihood band, from the threshold's rate down to the smallest probability asked.
import type { PotTail } from './tail-models.js';

/** [latencyNs, probability per wake-up of exceeding it]. */
export type CurvePoint = [number, number];

export interface ExceedanceCurve {
  thresholdNs: number;
  observed: CurvePoint[];
  fitted: CurvePoint[];
  /** The interval's ends at each probability of `fitted`; the upper is left out where it has none. */
  lower: CurvePoint[];
  upper: CurvePoint[];
}

/** Points of the observed tail at most: the plot cannot show more. */
const OBSERVED_POINTS = 200;
const FITTED_POINTS = 13;

export function exceedanceCurve(tail: PotTail, exceedancesNs: readonly number[], total: number, smallestProbability: number, confidence: number): ExceedanceCurve {
  const descending = [...exceedancesNs].sort((a, b) => b - a);
  const step = Math.max(1, Math.floor(descending.length / OBSERVED_POINTS));
  const observed: CurvePoint[] = [];
  for (let i = 0; i < descending.length; i += step) observed.push([descending[i]!, (i + 1) / total]);
  const fitted: CurvePoint[] = [];
  const lower: CurvePoint[] = [];
  const upper: CurvePoint[] = [];
  const top = Math.log10(tail.exceedanceRate);
  const bottom = Math.log10(smallestProbability);
  for (let i = 0; i < FITTED_POINTS; i++) {
    const probability = 10 ** (top + ((bottom - top) * i) / (FITTED_POINTS - 1));
    // At the threshold itself (i = 0) the level is the threshold, with no interval to speak of.
    const level = i === 0 ? { value: tail.threshold, lower: tail.threshold, upper: tail.threshold } : tail.level(probability, confidence);
    if (!level) continue;
    fitted.push([level.value, probability]);
    lower.push([level.lower, probability]);
    if (level.upper !== null) upper.push([level.upper, probability]);
  }
  return { thresholdNs: tail.threshold, observed, fitted, lower, upper };
}
