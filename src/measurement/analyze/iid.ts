// Tests that a sequence (the block maxima, in time order) is independent and identically distributed,
// which the extreme-value fits assume: Ljung-Box for autocorrelation (periodic spikes show up at their
// lag), the Wald-Wolfowitz runs test above and below the median (a trend or a level shift gives too few
// runs) and KPSS for level stationarity (a drift of the level).
import jstat from 'jstat';
import { mean } from './moments.js';

export interface TestResult {
  name: string;
  statistic: number;
  pValue: number;
  /** Details that make the statistic reproducible (lags, counts). */
  details: Record<string, number>;
}

/** Sample autocorrelations at lags 1..maxLag (the usual biased estimator). */
export function autocorrelations(values: ArrayLike<number>, maxLag: number): number[] {
  const n = values.length;
  const m = mean(values);
  let c0 = 0;
  for (let i = 0; i < n; i++) c0 += (values[i]! - m) ** 2;
  const result: number[] = [];
  for (let lag = 1; lag <= maxLag; lag++) {
    let c = 0;
    for (let i = lag; i < n; i++) c += (values[i]! - m) * (values[i - lag]! - m);
    result.push(c0 > 0 ? c / c0 : 0);
  }
  return result;
}

/** Ljung-Box portmanteau test over lags 1..h, h = min(20, n/5) unless given; chi-squared with h degrees of freedom. */
export function ljungBox(values: ArrayLike<number>, lags?: number): TestResult {
  const n = values.length;
  const h = lags ?? Math.max(1, Math.min(20, Math.floor(n / 5)));
  const rho = autocorrelations(values, h);
  let q = 0;
  rho.forEach((r, index) => (q += (r * r) / (n - index - 1)));
  q *= n * (n + 2);
  return { name: 'ljung-box', statistic: q, pValue: 1 - jstat.chisquare.cdf(q, h), details: { lags: h } };
}

/** Wald-Wolfowitz runs test above/below the median (values equal to it are left out); normal approximation, two-sided. */
export function runsTest(values: ArrayLike<number>): TestResult {
  const sorted = Array.from(values).sort((a, b) => a - b);
  const n = sorted.length;
  const median = n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  let above = 0;
  let below = 0;
  let runs = 0;
  let previous = 0;
  for (let i = 0; i < values.length; i++) {
    const side = Math.sign(values[i]! - median);
    if (side === 0) continue;
    if (side > 0) above++;
    else below++;
    if (side !== previous) runs++;
    previous = side;
  }
  const total = above + below;
  const expected = (2 * above * below) / total + 1;
  const variance = (2 * above * below * (2 * above * below - total)) / (total * total * (total - 1));
  const z = variance > 0 ? (runs - expected) / Math.sqrt(variance) : 0;
  return { name: 'runs', statistic: z, pValue: 2 * (1 - jstat.normal.cdf(Math.abs(z), 0, 1)), details: { runs, above, below } };
}

// Kwiatkowski et al. (1992), table 1, level stationarity: upper-tail critical values and their levels.
const KPSS_LEVEL_CRITICAL: [number, number][] = [
  [0.347, 0.1],
  [0.463, 0.05],
  [0.574, 0.025],
  [0.739, 0.01],
];

/**
 * KPSS test of level stationarity with the Bartlett-window long-run variance at lag
 * floor(4 (n/100)^(1/4)). The p-value is interpolated in KPSS's table, so it is clamped to
 * [0.01, 0.10]: 0.10 means "0.10 or more", 0.01 "0.01 or less".
 */
export function kpss(values: ArrayLike<number>): TestResult {
  const n = values.length;
  const m = mean(values);
  const lag = Math.floor(4 * (n / 100) ** 0.25);
  let partial = 0;
  let sumSquaredPartials = 0;
  const residuals = Array.from(values, (value) => value - m);
  for (const residual of residuals) {
    partial += residual;
    sumSquaredPartials += partial * partial;
  }
  const autocovariance = (k: number) => {
    let c = 0;
    for (let i = k; i < n; i++) c += residuals[i]! * residuals[i - k]!;
    return c / n;
  };
  let longRunVariance = autocovariance(0);
  for (let k = 1; k <= lag; k++) longRunVariance += 2 * (1 - k / (lag + 1)) * autocovariance(k);
  const statistic = longRunVariance > 0 ? sumSquaredPartials / (n * n * longRunVariance) : 0;
  return { name: 'kpss', statistic, pValue: kpssPValue(statistic), details: { lags: lag } };
}

function kpssPValue(statistic: number): number {
  const first = KPSS_LEVEL_CRITICAL[0]!;
  const last = KPSS_LEVEL_CRITICAL[KPSS_LEVEL_CRITICAL.length - 1]!;
  if (statistic <= first[0]) return first[1];
  if (statistic >= last[0]) return last[1];
  for (let i = 1; i < KPSS_LEVEL_CRITICAL.length; i++) {
    const [x1, p1] = KPSS_LEVEL_CRITICAL[i]!;
    const [x0, p0] = KPSS_LEVEL_CRITICAL[i - 1]!;
    if (statistic <= x1) return p0 + ((statistic - x0) * (p1 - p0)) / (x1 - x0);
  }
  return last[1];
}
