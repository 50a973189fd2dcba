// The generalized extreme value distribution of block maxima, its maximum-likelihood fit and the
// profile-likelihood interval of a return level (Coles 2001, ch. 3). The shape xi follows Coles and
// R's evd: xi > 0 is the heavy (Frechet) tail, xi = 0 the Gumbel. scipy's genextreme calls -xi "c".
import { meanAndVariance } from './moments.js';
import { nelderMead } from './optimise.js';
import type { Uniform } from './random.js';

export interface GevParameters {
  location: number;
  scale: number;
  shape: number;
}

export interface GevFit extends GevParameters {
  logLikelihood: number;
  count: number;
}

const SHAPE_ZERO = 1e-7;
const EULER_GAMMA = 0.5772156649015329;

/** -log F(x) = (1 + xi*z)^(-1/xi), or exp(-z) at xi = 0; Infinity below the support, 0 above it. */
function minusLogCdf(x: number, { location, scale, shape }: GevParameters): number {
  const z = (x - location) / scale;
  if (Math.abs(shape) < SHAPE_ZERO) return Math.exp(-z);
  const t = 1 + shape * z;
  if (t <= 0) return shape > 0 ? Infinity : 0;
  return Math.exp(-Math.log(t) / shape);
}

export function gevCdf(x: number, parameters: GevParameters): number {
  return Math.exp(-minusLogCdf(x, parameters));
}

/** P(X > x), without cancellation far in the tail. */
export function gevSurvival(x: number, parameters: GevParameters): number {
  return -Math.expm1(-minusLogCdf(x, parameters));
}

/**
 * The level whose -log F is `y` (so F = exp(-y)): for a block exceedance probability pb,
 * y = -log(1 - pb), passed in directly so that tiny probabilities keep their digits.
 */
export function gevLevelForMinusLogCdf(y: number, { location, scale, shape }: GevParameters): number {
  const logY = Math.log(y);
  return Math.abs(shape) < SHAPE_ZERO ? location - scale * logY : location + (scale * Math.expm1(-shape * logY)) / shape;
}

export function gevLogLikelihood(maxima: ArrayLike<number>, { location, scale, shape }: GevParameters): number {
  if (!(scale > 0)) return -Infinity;
  const gumbel = Math.abs(shape) < SHAPE_ZERO;
  let sum = 0;
  for (let i = 0; i < maxima.length; i++) {
    const z = (maxima[i]! - location) / scale;
    if (gumbel) {
      sum += z + Math.exp(-z);
      continue;
    }
    const t = 1 + shape * z;
    if (t <= 0) return -Infinity;
    const logT = Math.log(t);
    sum += (1 + 1 / shape) * logT + Math.exp(-logT / shape);
  }
  return -maxima.length * Math.log(scale) - sum;
}

export function gevRandom(count: number, parameters: GevParameters, uniform: Uniform): number[] {
  return Array.from({ length: count }, () => gevLevelForMinusLogCdf(-Math.log(uniform()), parameters));
}

/** Gumbel moments as the start of the search, with a small positive shape (maxima of latencies lean heavy). */
function momentStart(maxima: ArrayLike<number>): GevParameters {
  const { mean, variance } = meanAndVariance(maxima);
  const scale = Math.max((Math.sqrt(6 * variance) / Math.PI), Math.abs(mean) * 1e-6, Number.MIN_VALUE);
  return { location: mean - EULER_GAMMA * scale, scale, shape: 0.1 };
}

/** Maximum-likelihood fit to block maxima, searched from `start` (default: Gumbel moments). */
export function fitGev(maxima: ArrayLike<number>, start: GevParameters = momentStart(maxima)): GevFit {
  if (maxima.length < 4) throw new RangeError(`a GEV fit needs 4 or more block maxima, got ${maxima.length}`);
  // Location in units of the start's scale, so that the simplex steps are of the data's size.
  const unit = start.scale;
  const negative = ([location, logScale, shape]: number[]) =>
    -gevLogLikelihood(maxima, { location: location! * unit, scale: Math.exp(logScale!) * unit, shape: shape! });
  const found = nelderMead(negative, [start.location / unit, 0, start.shape], { steps: [0.3, 0.2, 0.1] });
  const [location, logScale, shape] = found.point as [number, number, number];
  return { location: location * unit, scale: Math.exp(logScale) * unit, shape, logLikelihood: -found.value, count: maxima.length };
}

/**
 * The profile log-likelihood of the return level `level` whose -log F is `y`: for each (sigma, xi),
 * mu is what puts that level there; (sigma, xi) are searched from the fit, or from the fit's shape
 * with the scale that keeps its location, whichever the data allow (a start outside the support would
 * leave the simplex nowhere to go).
 */
export function gevProfileLogLikelihood(maxima: ArrayLike<number>, y: number, level: number, fit: GevParameters): number {
  const logY = Math.log(y);
  const unit = fit.scale;
  const locationFor = (scale: number, shape: number) =>
    Math.abs(shape) < SHAPE_ZERO ? level + scale * logY : level - (scale * Math.expm1(-shape * logY)) / shape;
  const negative = ([logScale, shape]: number[]) => {
    const scale = Math.exp(logScale!) * unit;
    return -gevLogLikelihood(maxima, { location: locationFor(scale, shape!), scale, shape: shape! });
  };
  const keepLocation = (level - fit.location) / (fit.location - locationFor(fit.scale, fit.shape) + (level - fit.location));
  const starts = [[0, fit.shape]];
  if (keepLocation > 0 && Number.isFinite(keepLocation)) starts.push([Math.log(keepLocation), fit.shape]);
  let start = starts[0]!;
  for (const candidate of starts) if (negative(candidate) < negative(start)) start = candidate;
  const found = nelderMead(negative, start, { steps: [0.2, 0.1] });
  return -found.value;
}
