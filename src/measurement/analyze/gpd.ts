// The generalized Pareto distribution of excesses over a threshold, its maximum-likelihood fit and
// the profile-likelihood interval of a quantile (Coles 2001, ch. 4). The shape xi follows Coles,
// R's evd and scipy's genpareto alike: xi > 0 is a heavy tail, xi = 0 the exponential, xi < 0 a tail
// with an end point at -sigma/xi.
import { meanAndVariance } from './moments.js';
import { maximise1d, nelderMead } from './optimise.js';
import type { Uniform } from './random.js';

export interface GpdParameters {
  /** Scale sigma > 0, in the data's unit. */
  scale: number;
  /** Shape xi. */
  shape: number;
}

export interface GpdFit extends GpdParameters {
  logLikelihood: number;
  /** Excesses fitted. */
  count: number;
}

/** Below this |xi| the exponential's formulas are used: (1 + xi*y)^(1/xi) loses digits there. */
const SHAPE_ZERO = 1e-7;

/** log(1 + xi*y) / xi, continuous at xi = 0 (where it is y). */
function logTermOverShape(shape: number, y: number): number {
  return Math.abs(shape) < SHAPE_ZERO ? y : Math.log1p(shape * y) / shape;
}

/** P(excess > y). */
export function gpdSurvival(y: number, { scale, shape }: GpdParameters): number {
  if (y <= 0) return 1;
  const t = 1 + (shape * y) / scale;
  if (t <= 0) return 0;
  return Math.exp(-logTermOverShape(shape, y / scale));
}

export function gpdCdf(y: number, parameters: GpdParameters): number {
  return -Math.expm1(Math.log(gpdSurvival(y, parameters)));
}

/** The excess exceeded with probability `q`. */
export function gpdQuantileOfSurvival(q: number, { scale, shape }: GpdParameters): number {
  // y = sigma/xi * (q^(-xi) - 1); its xi -> 0 limit is -sigma*log(q).
  const logQ = Math.log(q);
  return Math.abs(shape) < SHAPE_ZERO ? -scale * logQ : (scale * Math.expm1(-shape * logQ)) / shape;
}

export function gpdLogLikelihood(excesses: ArrayLike<number>, { scale, shape }: GpdParameters): number {
  if (!(scale > 0)) return -Infinity;
  let sum = 0;
  for (let i = 0; i < excesses.length; i++) {
    const z = excesses[i]! / scale;
    if (1 + shape * z <= 0) return -Infinity;
    sum += (1 + shape) * logTermOverShape(shape, z);
  }
  return -excesses.length * Math.log(scale) - sum;
}

export function gpdRandom(count: number, parameters: GpdParameters, uniform: Uniform): number[] {
  return Array.from({ length: count }, () => gpdQuantileOfSurvival(uniform(), parameters));
}

/** Method-of-moments start for the likelihood search (Hosking and Wallis 1987), kept in a sane range. */
function momentStart(excesses: ArrayLike<number>): GpdParameters {
  const { mean, variance } = meanAndVariance(excesses);
  const ratio = variance > 0 ? (mean * mean) / variance : 1;
  const shape = Math.min(0.4, Math.max(-0.4, 0.5 * (1 - ratio)));
  return { scale: Math.max(0.5 * mean * (ratio + 1), Number.MIN_VALUE), shape };
}

/** Maximum-likelihood fit to excesses over a threshold (all > 0), searched from `start` (default: the moments' estimate). */
export function fitGpd(excesses: ArrayLike<number>, start: GpdParameters = momentStart(excesses)): GpdFit {
  if (excesses.length < 3) throw new RangeError(`a generalized Pareto fit needs 3 or more excesses, got ${excesses.length}`);
  // Searching log(sigma) keeps sigma positive; xi is searched as it is.
  const negative = ([logScale, shape]: number[]) => -gpdLogLikelihood(excesses, { scale: Math.exp(logScale!), shape: shape! });
  const found = nelderMead(negative, [Math.log(start.scale), start.shape], { steps: [0.2, 0.1] });
  const [logScale, shape] = found.point as [number, number];
  return { scale: Math.exp(logScale), shape, logLikelihood: -found.value, count: excesses.length };
}

/**
 * The profile log-likelihood of the excess `level` exceeded with probability `q` among excesses:
 * for each xi, sigma is what puts that quantile at `level`; the best xi is searched on [-1, 2], widened
 * to take in the fit's own shape (`fittedShape`) with room on both sides, so that the profile at the
 * estimate is the maximum itself.
 */
export function gpdProfileLogLikelihood(excesses: ArrayLike<number>, q: number, level: number, fittedShape: number): number {
  if (!(level > 0)) return -Infinity;
  const logQ = Math.log(q);
  const scaleFor = (shape: number) => (Math.abs(shape) < SHAPE_ZERO ? -level / logQ : (level * shape) / Math.expm1(-shape * logQ));
  const low = Math.min(-1, fittedShape - 1);
  const high = Math.max(2, fittedShape + 1);
  return maximise1d((shape) => gpdLogLikelihood(excesses, { scale: scaleFor(shape), shape }), low, high).value;
}
