// Goodness of fit of the tail: the Anderson-Darling statistic, which weighs the tails of the
// distribution more than Kolmogorov-Smirnov does. Its textbook p-values assume known parameters; the
// parameters here were fitted to the same data, so the p-value comes from a parametric bootstrap
// (Stute et al. 1993): samples of the same size drawn from the fit, each refitted and tested, with a
// fixed seed so that the same data always gives the same p-value.
import type { TestResult } from './iid.js';
import { seededUniform, type Uniform } from './random.js';

export interface FittedModel<P> {
  /** The maximum-likelihood fit, searched from `start`. */
  fit(data: number[], start: P): P;
  cdf(x: number, parameters: P): number;
  random(count: number, parameters: P, uniform: Uniform): number[];
}

/** A^2 of `data` against the CDF `cdf`. */
export function andersonDarling(data: readonly number[], cdf: (x: number) => number): number {
  const n = data.length;
  const u = data.map((x) => Math.min(1 - 1e-15, Math.max(1e-300, cdf(x)))).sort((a, b) => a - b);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (2 * i + 1) * (Math.log(u[i]!) + Math.log1p(-u[n - 1 - i]!));
  return -n - sum / n;
}

/** Enough to tell p = 0.05 from 0.01 (Davison and Hinkley 1997 suggest 99 for tests at 5%). */
export const BOOTSTRAP_REPLICATES = 99;
const BOOTSTRAP_SEED = 17;

export function andersonDarlingTest<P>(data: number[], model: FittedModel<P>, fitted: P, replicates = BOOTSTRAP_REPLICATES): TestResult {
  const statistic = andersonDarling(data, (x) => model.cdf(x, fitted));
  const uniform = seededUniform(BOOTSTRAP_SEED);
  let atLeast = 0;
  for (let r = 0; r < replicates; r++) {
    const sample = model.random(data.length, fitted, uniform);
    // Started from the parameters the sample was drawn with: the fit only moves as far as it must.
    const refit = model.fit(sample, fitted);
    if (andersonDarling(sample, (x) => model.cdf(x, refit)) >= statistic) atLeast++;
  }
  return { name: 'anderson-darling', statistic, pValue: (atLeast + 1) / (replicates + 1), details: { replicates } };
}
