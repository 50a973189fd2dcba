// The two extreme-value models behind a bound, each as one object: fit the data, give the latency
// exceeded with a per-wake-up probability, its profile-likelihood interval, and the pieces the
// goodness-of-fit bootstrap needs. Peaks over threshold (POT) fits the generalized Pareto to the
// excesses over a threshold; block maxima (BM) fits the GEV to the maximum of each block of wake-ups.
import { fitGev, gevCdf, gevLevelForMinusLogCdf, gevProfileLogLikelihood, gevRandom, type GevFit } from './gev.js';
import type { FittedModel } from './goodness.js';
import { fitGpd, gpdCdf, gpdProfileLogLikelihood, gpdQuantileOfSurvival, gpdRandom, type GpdFit } from './gpd.js';
import { profileInterval, type Interval } from './profile.js';

export const GPD_MODEL: FittedModel<GpdFit> = { fit: fitGpd, cdf: gpdCdf, random: gpdRandom };
export const GEV_MODEL: FittedModel<GevFit> = { fit: fitGev, cdf: gevCdf, random: gevRandom };

export interface LevelEstimate extends Interval {
  value: number;
}

/** POT: `excesses` over `threshold`, which `count` of `total` wake-ups exceeded. */
export class PotTail {
  readonly fit: GpdFit;
  constructor(
    readonly threshold: number,
    readonly excesses: number[],
    readonly total: number,
  ) {
    this.fit = fitGpd(excesses);
  }

  /** Probability of a wake-up exceeding the threshold. */
  get exceedanceRate(): number {
    return this.excesses.length / this.total;
  }

  /** The latency exceeded with probability `p` per wake-up, and its interval; null when p is not beyond the threshold's rate. */
  level(p: number, confidence: number): LevelEstimate | null {
    const q = p / this.exceedanceRate;
    if (!(q < 1)) return null;
    const value = gpdQuantileOfSurvival(q, this.fit);
    const interval = profileInterval((y) => gpdProfileLogLikelihood(this.excesses, q, y, this.fit.shape), value, this.fit.logLikelihood, 0, confidence);
    return { value: this.threshold + value, lower: this.threshold + interval.lower, upper: interval.upper === null ? null : this.threshold + interval.upper };
  }
}

/** BM: the maximum of each block of `blockSize` wake-ups, in time order. */
export class BlockMaximaTail {
  readonly fit: GevFit;
  constructor(
    readonly maxima: number[],
    readonly blockSize: number,
  ) {
    this.fit = fitGev(maxima);
  }

  /** The latency exceeded with probability `p` per wake-up: its block's maximum exceeds it with 1 - (1-p)^m. */
  level(p: number, confidence: number): LevelEstimate {
    // -log F for the block: -log((1-p)^m) = -m log(1-p), exact for tiny p.
    const y = -this.blockSize * Math.log1p(-p);
    const value = gevLevelForMinusLogCdf(y, this.fit);
    // No level below the smallest block maximum is searched: a bound that low is not a tail bound.
    const floor = Math.min(value, Math.min(...this.maxima));
    const interval = profileInterval(
      (level) => (level <= floor ? -Infinity : gevProfileLogLikelihood(this.maxima, y, level, this.fit)),
      value,
      this.fit.logLikelihood,
      floor,
      confidence,
    );
    return { value, lower: interval.lower, upper: interval.upper };
  }
}
