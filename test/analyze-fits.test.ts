// The extreme-value fits: parameters and quantiles recovered from seeded samples of known GPD and GEV
// distributions, and the same numbers as scipy.stats and R's evd on the same data.
import { describe, expect, it } from 'vitest';
import { fitGev, gevLevelForMinusLogCdf, gevRandom, type GevParameters } from '../src/measurement/analyze/gev.js';
import { fitGpd, gpdQuantileOfSurvival, gpdRandom, type GpdParameters } from '../src/measurement/analyze/gpd.js';
import { seededUniform } from '../src/measurement/analyze/random.js';
import { BlockMaximaTail, PotTail } from '../src/measurement/analyze/tail-models.js';
import { evd, evdGev, evdGpd, scipy, scipyGev, scipyGpd, scipyGpdProfileDeviance } from './helpers/reference-fits.js';
import { itWithTool } from './helpers/tools.js';

const GPD_CASES: { name: string; parameters: GpdParameters; seed: number }[] = [
  { name: 'heavy tail (xi 0.2)', parameters: { scale: 10, shape: 0.2 }, seed: 1 },
  { name: 'exponential tail (xi 0)', parameters: { scale: 5_000, shape: 0 }, seed: 2 },
  { name: 'bounded tail (xi -0.2)', parameters: { scale: 3, shape: -0.2 }, seed: 3 },
];

const GEV_CASES: { name: string; parameters: GevParameters; seed: number }[] = [
  { name: 'Frechet (xi 0.1)', parameters: { location: 100, scale: 10, shape: 0.1 }, seed: 4 },
  { name: 'Gumbel (xi 0)', parameters: { location: 50_000, scale: 4_000, shape: 0 }, seed: 5 },
  { name: 'Weibull (xi -0.2)', parameters: { location: 20, scale: 2, shape: -0.2 }, seed: 6 },
];

const CONFIDENCE = 0.95;

describe('generalized Pareto', () => {
  // n = 2000 excesses: the asymptotic standard errors are about 0.03 for xi and 3.5% for sigma, so
  // the tolerances below are about three of them.
  for (const { name, parameters, seed } of GPD_CASES) {
    it(`recovers the parameters and the 1e-4 quantile of a ${name}`, () => {
      const excesses = gpdRandom(2_000, parameters, seededUniform(seed));
      const fit = fitGpd(excesses);
      expect(Math.abs(fit.shape - parameters.shape)).toBeLessThan(0.08);
      expect(Math.abs(fit.scale / parameters.scale - 1)).toBeLessThan(0.1);
      const tail = new PotTail(0, excesses, excesses.length);
      const level = tail.level(1e-4, CONFIDENCE)!;
      const truth = gpdQuantileOfSurvival(1e-4, parameters);
      // The quantile at 1e-4, well beyond the sample's 1/2000: the 95% interval covers the truth,
      // and the estimate is within 35% of it.
      expect(level.lower).toBeLessThan(truth);
      expect(level.upper).toBeGreaterThan(truth);
      expect(Math.abs(level.value / truth - 1)).toBeLessThan(0.35);
      expect(level.lower).toBeLessThan(level.value);
      expect(level.upper).toBeGreaterThan(level.value);
    });
  }

  it('profiles a very heavy tail (xi 2.5, beyond the usual search range) with the estimate inside its interval', () => {
    const excesses = gpdRandom(300, { scale: 1_000, shape: 2.5 }, seededUniform(8));
    const fit = fitGpd(excesses);
    expect(fit.shape).toBeGreaterThan(2);
    const level = new PotTail(0, excesses, 100 * excesses.length).level(1e-9, CONFIDENCE)!;
    expect(level.lower).toBeLessThan(level.value);
    expect(level.upper === null || level.upper > level.value).toBe(true);
  });
});

describe('generalized extreme value', () => {
  // n = 500 block maxima: standard errors about 0.035 for xi, 3.5% for sigma, 0.5 sigma/sqrt(n) for mu.
  for (const { name, parameters, seed } of GEV_CASES) {
    it(`recovers the parameters and the 1e-3 return level of a ${name}`, () => {
      const maxima = gevRandom(500, parameters, seededUniform(seed));
      const fit = fitGev(maxima);
      expect(Math.abs(fit.shape - parameters.shape)).toBeLessThan(0.1);
      expect(Math.abs(fit.scale / parameters.scale - 1)).toBeLessThan(0.12);
      expect(Math.abs(fit.location - parameters.location) / parameters.scale).toBeLessThan(0.15);
      const tail = new BlockMaximaTail(maxima, 1);
      const level = tail.level(1e-3, CONFIDENCE);
      const truth = gevLevelForMinusLogCdf(-Math.log1p(-1e-3), parameters);
      expect(level.lower).toBeLessThan(truth);
      expect(level.upper).toBeGreaterThan(truth);
      expect(Math.abs(level.value - truth) / parameters.scale).toBeLessThan(3);
    });
  }

  it('turns a per-wake-up probability into the block probability 1 - (1-p)^m', () => {
    const maxima = gevRandom(300, { location: 100, scale: 10, shape: 0.1 }, seededUniform(7));
    const perBlock = new BlockMaximaTail(maxima, 1).level(1e-3, CONFIDENCE).value;
    // With m = 1000 wake-ups per block, p = 1e-6 per wake-up is about 1e-3 per block.
    const perWakeUp = new BlockMaximaTail(maxima, 1_000).level(1e-6, CONFIDENCE).value;
    expect(Math.abs(perWakeUp / perBlock - 1)).toBeLessThan(1e-3);
  });
});

// Both references minimise the same likelihood: the parameters agree to 1e-4 (relative for scales
// and locations, absolute for the shape) and the log-likelihoods to 1e-6 of their size.
describe('against scipy.stats on the same data', () => {
  for (const { name, parameters, seed } of GPD_CASES) {
    itWithTool(scipy, `genpareto.fit agrees on a ${name}`, () => {
      const excesses = gpdRandom(500, parameters, seededUniform(100 + seed));
      const ours = fitGpd(excesses);
      const theirs = scipyGpd(excesses);
      expect(Math.abs(ours.scale / theirs.scale - 1)).toBeLessThan(1e-4);
      expect(Math.abs(ours.shape - theirs.shape)).toBeLessThan(1e-4);
      expect(Math.abs(ours.logLikelihood - theirs.logLikelihood)).toBeLessThan(1e-6 * Math.abs(theirs.logLikelihood));
    }, 60_000);
  }
  for (const { name, parameters, seed } of GEV_CASES) {
    itWithTool(scipy, `genextreme.fit agrees on a ${name} (scipy's c is -xi)`, () => {
      const maxima = gevRandom(300, parameters, seededUniform(200 + seed));
      const ours = fitGev(maxima);
      const theirs = scipyGev(maxima);
      expect(Math.abs(ours.location - theirs.location) / theirs.scale).toBeLessThan(1e-4);
      expect(Math.abs(ours.scale / theirs.scale - 1)).toBeLessThan(1e-4);
      expect(Math.abs(ours.shape - theirs.shape)).toBeLessThan(1e-4);
      expect(Math.abs(ours.logLikelihood - theirs.logLikelihood)).toBeLessThan(1e-6 * Math.abs(theirs.logLikelihood));
    }, 60_000);
  }
  itWithTool(scipy, 'the profile-likelihood interval ends are where scipy\'s own profile deviance is the chi-squared(1) quantile', () => {
    const excesses = gpdRandom(500, { scale: 10, shape: 0.2 }, seededUniform(300));
    const q = 1e-3;
    const level = new PotTail(0, excesses, excesses.length).level(q, CONFIDENCE)!;
    const [atLower, atUpper] = scipyGpdProfileDeviance(excesses, q, [level.lower, level.upper!]);
    // chi2.ppf(0.95, 1) = 3.8415; the ends are found to 1e-5 of the interval's span.
    expect(Math.abs(atLower! - 3.8415)).toBeLessThan(0.01);
    expect(Math.abs(atUpper! - 3.8415)).toBeLessThan(0.01);
  }, 60_000);
});

// evd maximises with optim (here at reltol 1e-14) and reads its intervals off a spline through a
// profile grid, so its interval ends are good to about 1%; its estimates to 1e-3.
function expectSameLevel(ours: { value: number; lower: number; upper: number | null }, theirs: { quantile: number; lower: number; upper: number }): void {
  expect(Math.abs(ours.value / theirs.quantile - 1)).toBeLessThan(1e-3);
  expect(Math.abs(ours.lower / theirs.lower - 1)).toBeLessThan(0.01);
  expect(Math.abs(ours.upper! / theirs.upper - 1)).toBeLessThan(0.01);
}

describe("against R's evd on the same data", () => {
  for (const { name, parameters, seed } of GPD_CASES) {
    itWithTool(evd, `fpot and its profile interval of the 1e-3 quantile agree on a ${name}`, () => {
      const excesses = gpdRandom(500, parameters, seededUniform(400 + seed));
      const ours = fitGpd(excesses);
      const level = new PotTail(0, excesses, excesses.length).level(1e-3, CONFIDENCE)!;
      const theirs = evdGpd(excesses, 1e-3, CONFIDENCE);
      expect(Math.abs(ours.scale / theirs.scale - 1)).toBeLessThan(1e-3);
      expect(Math.abs(ours.shape - theirs.shape)).toBeLessThan(1e-3);
      expectSameLevel(level, theirs);
    }, 60_000);
  }
  for (const { name, parameters, seed } of GEV_CASES) {
    itWithTool(evd, `fgev and its profile interval of the 1e-3 return level agree on a ${name}`, () => {
      const maxima = gevRandom(300, parameters, seededUniform(500 + seed));
      const ours = fitGev(maxima);
      const level = new BlockMaximaTail(maxima, 1).level(1e-3, CONFIDENCE);
      const theirs = evdGev(maxima, 1e-3, CONFIDENCE);
      expect(Math.abs(ours.location - theirs.location) / theirs.scale).toBeLessThan(1e-3);
      expect(Math.abs(ours.scale / theirs.scale - 1)).toBeLessThan(1e-3);
      expect(Math.abs(ours.shape - theirs.shape)).toBeLessThan(1e-3);
      expectSameLevel(level, theirs);
    }, 60_000);
  }
});
