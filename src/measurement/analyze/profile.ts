// Profile-likelihood confidence intervals (Coles 2001, 2.6.6): the values of a quantity whose profile
// log-likelihood is within half the chi-squared(1) quantile of the maximum. They follow the skew of
// extreme-value likelihoods, which the symmetric normal (delta-method) interval does not.
import jstat from 'jstat';
import { bisect } from './optimise.js';

export interface Interval {
  lower: number;
  /** null: the profile never falls far enough above the estimate (the data cannot bound it). */
  upper: number | null;
}

/**
 * The `confidence` interval of a quantity estimated at `estimate` with maximum log-likelihood
 * `maximum`, whose profile log-likelihood is `profile`. `floor` is the lowest value it can take.
 * The upper end is searched up to `estimate + reach * (estimate - floor)`.
 */
export function profileInterval(
  profile: (value: number) => number,
  estimate: number,
  maximum: number,
  floor: number,
  confidence: number,
  reach = 1000,
): Interval {
  const cutoff = maximum - jstat.chisquare.inv(confidence, 1) / 2;
  const inside = (value: number) => profile(value) >= cutoff;
  // The profile peaks at the estimate; where a search missed that, no interval can be read off it.
  if (!inside(estimate)) throw new Error(`the profile likelihood at the estimate ${estimate} is below the cut-off: the profile search is broken`);
  const span = Math.max(estimate - floor, Math.abs(estimate) * 1e-9, Number.MIN_VALUE);
  const resolution = span * 1e-6;
  const lower = inside(floor) ? floor : bisect(inside, floor, estimate, resolution);
  let upperEnd = estimate + span;
  while (inside(upperEnd)) {
    if (upperEnd - estimate > reach * span) return { lower, upper: null };
    upperEnd = estimate + 2 * (upperEnd - estimate);
  }
  return { lower, upper: bisect(inside, estimate, upperEnd, resolution) };
}
