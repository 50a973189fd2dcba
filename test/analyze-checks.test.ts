// The checks behind a bound: the i.i.d. tests flag a trend and periodic spikes and pass i.i.d. data,
// Anderson-Darling rejects a tail the GPD cannot have, the CV method finds exponential tails, and a
// bound is printed as trustworthy only when every check passed.
import { describe, expect, it } from 'vitest';
import { gevRandom } from '../src/measurement/analyze/gev.js';
import { andersonDarlingTest } from '../src/measurement/analyze/goodness.js';
import { fitGpd, gpdRandom } from '../src/measurement/analyze/gpd.js';
import { kpss, ljungBox, runsTest } from '../src/measurement/analyze/iid.js';
import { analyzeTail, type TailData } from '../src/measurement/analyze/pwcet.js';
import { seededUniform } from '../src/measurement/analyze/random.js';
import { GPD_MODEL } from '../src/measurement/analyze/tail-models.js';
import { selectThreshold } from '../src/measurement/analyze/threshold.js';

const ALPHA = 0.05;
const maximaOf = (seed: number) => gevRandom(300, { location: 60_000, scale: 3_000, shape: 0.05 }, seededUniform(seed));

describe('independence and identical distribution of block maxima', () => {
  for (const seed of [11, 12, 13]) {
    it(`passes i.i.d. GEV maxima (seed ${seed})`, () => {
      const maxima = maximaOf(seed);
      for (const test of [ljungBox, runsTest, kpss]) expect(test(maxima).pValue, test.name).toBeGreaterThanOrEqual(ALPHA);
    });
  }

  it('flags a trend (the level rising by two scales over the run) in the runs test and KPSS', () => {
    const maxima = maximaOf(14).map((x, i, all) => x + (6_000 * i) / all.length);
    expect(runsTest(maxima).pValue).toBeLessThan(ALPHA);
    expect(kpss(maxima).pValue).toBeLessThan(ALPHA);
  });

  it('flags periodic spikes (every 8th block) in Ljung-Box', () => {
    const maxima = maximaOf(15).map((x, i) => (i % 8 === 0 ? x + 15_000 : x));
    const result = ljungBox(maxima);
    expect(result.details.lags).toBeGreaterThanOrEqual(8);
    expect(result.pValue).toBeLessThan(ALPHA);
  });
});

describe('goodness of fit (Anderson-Darling, parametric bootstrap)', () => {
  it('accepts GPD excesses and rejects excesses with a mode away from zero, which no GPD has', () => {
    const excesses = gpdRandom(300, { scale: 2_000, shape: 0.1 }, seededUniform(21));
    expect(andersonDarlingTest(excesses, GPD_MODEL, fitGpd(excesses)).pValue).toBeGreaterThanOrEqual(ALPHA);
    const uniform = seededUniform(22);
    const humped = Array.from({ length: 300 }, () => 5_000 + 1_000 * (uniform() + uniform() + uniform() - 1.5));
    const result = andersonDarlingTest(humped, GPD_MODEL, fitGpd(humped));
    expect(result.pValue).toBeLessThan(ALPHA);
    expect(result.details.replicates).toBe(99);
  });

  it('gives the same p-value for the same data (the bootstrap is seeded)', () => {
    const excesses = gpdRandom(200, { scale: 10, shape: 0 }, seededUniform(23));
    const fit = fitGpd(excesses);
    expect(andersonDarlingTest(excesses, GPD_MODEL, fit).pValue).toBe(andersonDarlingTest(excesses, GPD_MODEL, fit).pValue);
  });
});

describe('threshold by the coefficient of variation (MBPTA-CV)', () => {
  const sorted = (values: number[]) => Float64Array.from(values).sort();

  it('takes the lowest candidate for an exponential sample, whose every tail is exponential', () => {
    const values = sorted(gpdRandom(20_000, { scale: 1_000, shape: 0 }, seededUniform(31)));
    const selection = selectThreshold(values)!;
    expect(selection.exponentialTail).toBe(true);
    const inBand = selection.candidates.filter((c) => c.cv >= c.band[0] && c.cv <= c.band[1]);
    expect(selection.threshold).toBe(Math.min(...inBand.map((c) => c.threshold)));
    expect(selection.count).toBeGreaterThan(1_000);
  });

  it('finds no exponential tail in a Pareto sample (xi 0.3, CV 1.58)', () => {
    const values = sorted(gpdRandom(20_000, { scale: 1_000, shape: 0.3 }, seededUniform(32)));
    expect(selectThreshold(values)!.exponentialTail).toBe(false);
  });

  it('finds the exponential tail above a body that is not', () => {
    // A uniform body (CV of its excesses below 1) up to 10 us, an exponential tail beyond it.
    const uniform = seededUniform(33);
    const values = sorted([
      ...Array.from({ length: 18_000 }, () => 10_000 * uniform()),
      ...gpdRandom(2_000, { scale: 500, shape: 0 }, uniform).map((x) => 10_000 + x),
    ]);
    const selection = selectThreshold(values, { maxExcesses: 6_000 })!;
    expect(selection.exponentialTail).toBe(true);
    expect(selection.threshold).toBeGreaterThan(9_000);
    expect(selection.candidates[0]!.cv).toBeLessThan(selection.candidates[0]!.band[0]);
  });

  it('needs the minimum number of excesses', () => {
    expect(selectThreshold(sorted([1, 2, 3]))).toBeNull();
  });
});

/** A run of `count` wake-ups of 50 us + Exp(2 us), kept the way the engine keeps it. */
function simulatedRun(count: number, seed: number, shift: (index: number) => number = () => 0): TailData {
  const uniform = seededUniform(seed);
  const blockSize = 2_000;
  const maximaNs: number[] = [];
  const latenciesNs: number[] = [];
  const positions: number[] = [];
  const thresholdNs = 50_000 + 2_000 * Math.log(100);
  let blockMax = -Infinity;
  let maxNs = 0;
  for (let i = 0; i < count; i++) {
    const latency = 50_000 - 2_000 * Math.log(uniform()) + shift(i);
    blockMax = Math.max(blockMax, latency);
    maxNs = Math.max(maxNs, latency);
    if ((i + 1) % blockSize === 0) {
      maximaNs.push(blockMax);
      blockMax = -Infinity;
    }
    if (latency > thresholdNs) {
      latenciesNs.push(latency);
      positions.push(i / count);
    }
  }
  return {
    count,
    durationNs: count * 1e6,
    wakeupsPerHour: 3_600_000,
    maxNs,
    blockMaxima: { blockSize, maximaNs, lost: 0 },
    exceedances: { thresholdNs, latenciesNs, positions, incomplete: null },
  };
}

describe('bounds', () => {
  it('bounds an i.i.d. run: both methods trustworthy, their intervals covering the true 1e-6 quantile', () => {
    const analysis = analyzeTail(simulatedRun(600_000, 41), { probabilities: [1e-6, 1e-9], targetWidthNs: 1_000 });
    expect(analysis.checks.map((check) => [check.name, check.passed])).toEqual([
      ['ljung-box', true],
      ['runs', true],
      ['kpss', true],
      ['anderson-darling', true],
      ['anderson-darling', true],
    ]);
    const truth = 50_000 + 2_000 * Math.log(1e6);
    for (const method of ['pot-gpd', 'bm-gev'] as const) {
      const bound = analysis.bounds.find((b) => b.method === method && b.probability === 1e-6)!;
      expect(bound.trustworthy, bound.why).toBe(true);
      expect(bound.lowerNs!).toBeLessThan(truth);
      expect(bound.upperNs!).toBeGreaterThan(truth);
      const deeper = analysis.bounds.find((b) => b.method === method && b.probability === 1e-9)!;
      expect(deeper.valueNs!).toBeGreaterThan(bound.valueNs!);
    }
    // 1e-9 per wake-up at 3.6 million wake-ups an hour: 0.36% per hour.
    expect(analysis.bounds[1]!.perHourProbability).toBeCloseTo(1 - (1 - 1e-9) ** 3_600_000, 8);
    expect(analysis.convergence.steps.map((step) => step.fraction)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(analysis.convergence.steps[0]!.count).toBe(150_000);
    for (const needed of analysis.convergence.needed) {
      // A target narrower than the interval needs a longer run, by the square of the ratio.
      expect(needed.runLengthNs!).toBeCloseTo(600_000 * 1e6 * (needed.widthNs! / 1_000) ** 2, -3);
    }
  }, 120_000);

  it('prints a bound of a trending run as not trustworthy, and says why', () => {
    const analysis = analyzeTail(simulatedRun(600_000, 42, (i) => (8_000 * i) / 600_000), { probabilities: [1e-9] });
    expect(analysis.bounds).toHaveLength(2);
    for (const bound of analysis.bounds) {
      expect(bound.trustworthy).toBe(false);
      expect(bound.why).toMatch(/trend or shift|drifts/);
    }
  }, 120_000);

  it('says what is missing when the run kept neither block maxima nor exceedances', () => {
    const analysis = analyzeTail({ count: 1_000, durationNs: 1e9, wakeupsPerHour: 3.6e6, maxNs: 10, blockMaxima: 'the run file has no block maxima', exceedances: 'the run file lists no exceedances over a threshold' });
    expect(analysis.bounds.every((bound) => !bound.trustworthy && bound.valueNs === null)).toBe(true);
    expect(analysis.pot).toEqual({ unavailable: 'the run file lists no exceedances over a threshold' });
    expect(analysis.bm).toEqual({ unavailable: 'the run file has no block maxima' });
  });
});
