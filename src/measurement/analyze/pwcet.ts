// pWCET-style bounds of one series of wake-ups (a thread, or all threads together): the latency
// exceeded with a given probability per wake-up, from peaks over a threshold (GPD) and from block
// maxima (GEV), each with its profile-likelihood interval and the checks that make it meaningful.
// A bound is trustworthy only when every check passed; otherwise `why` says which failed.
import { exceedanceCurve, type ExceedanceCurve } from './curve.js';
import { andersonDarlingTest } from './goodness.js';
import { kpss, ljungBox, runsTest, type TestResult } from './iid.js';
import { BlockMaximaTail, GEV_MODEL, GPD_MODEL, PotTail } from './tail-models.js';
import { selectThreshold, type ThresholdSelection } from './threshold.js';

export type BoundMethod = 'pot-gpd' | 'bm-gev';

/** What the run kept of one series, for the extreme-value fits. */
export interface TailData {
  /** Wake-ups measured. */
  count: number;
  /** How long those wake-ups took at their period(s), in ns: the unit of the run length needed. */
  durationNs: number;
  /** Wake-ups per hour at the run's period(s). */
  wakeupsPerHour: number;
  /** The largest latency measured. */
  maxNs: number;
  /** The maximum of each block of `blockSize` wake-ups, in time order; or why there are none. */
  blockMaxima: { blockSize: number; maximaNs: number[]; lost: number } | string;
  /**
   * Every latency above `thresholdNs`, in time order, with where in the run it fell (0 = start,
   * 1 = end); `incomplete` says why some may be missing (null: none is). Or why there are none.
   */
  exceedances: { thresholdNs: number; latenciesNs: number[]; positions: number[]; incomplete: string | null } | string;
}

export interface AnalysisOptions {
  /** Per-wake-up exceedance probabilities (default 1e-6, 1e-9, 1e-12). */
  probabilities?: readonly number[];
  /** Of the intervals (default 0.95). */
  confidence?: number;
  /** Level below which a check's p-value fails it (default 0.05). */
  alpha?: number;
  /** Interval width wanted; the run length needed for it is estimated (ns). */
  targetWidthNs?: number | null;
}

export const DEFAULT_PROBABILITIES = [1e-6, 1e-9, 1e-12] as const;
export const DEFAULT_CONFIDENCE = 0.95;
export const DEFAULT_ALPHA = 0.05;
/** Fewest block maxima fitted or tested. */
export const MIN_BLOCKS = 20;
/** Fewest excesses over the threshold fitted. */
export const MIN_EXCESSES = 50;
/** Most excesses a threshold candidate may leave: beyond, the fits cost more than they tell. */
export const MAX_EXCESSES = 2_000;

export interface Check extends TestResult {
  /** What was tested: the block maxima (independence, identical distribution) or a fit. */
  subject: 'block-maxima' | 'pot-excesses' | 'bm-maxima';
  passed: boolean;
  /** The verdict in words. */
  verdict: string;
}

export interface Bound {
  probability: number;
  method: BoundMethod;
  valueNs: number | null;
  lowerNs: number | null;
  /** null: the interval has no upper end (the data cannot bound it). */
  upperNs: number | null;
  /** The probability that an hour of wake-ups at the run's period exceeds the bound at least once. */
  perHourProbability: number;
  trustworthy: boolean;
  why: string;
}

export interface PotSummary {
  thresholdNs: number;
  excesses: number;
  /** Share of wake-ups above the threshold. */
  exceedanceRate: number;
  /** The excesses' coefficient of variation and whether it was inside the exponential band. */
  cv: number;
  exponentialTail: boolean;
  scaleNs: number;
  shape: number;
}

export interface BmSummary {
  blockSize: number;
  blocks: number;
  locationNs: number;
  scaleNs: number;
  shape: number;
}

export interface ConvergenceStep {
  /** Share of the run, from its start. */
  fraction: number;
  count: number;
  bounds: { probability: number; method: BoundMethod; valueNs: number | null; lowerNs: number | null; upperNs: number | null }[];
}

export interface RunLengthNeeded {
  probability: number;
  method: BoundMethod;
  widthNs: number | null;
  /** The run length for the interval to narrow to the target, from the 1/sqrt(n) rate; 0: already narrower; null: unbounded now. */
  runLengthNs: number | null;
}

export interface TailAnalysis {
  count: number;
  maxNs: number;
  confidence: number;
  pot: PotSummary | { unavailable: string };
  bm: BmSummary | { unavailable: string };
  checks: Check[];
  bounds: Bound[];
  convergence: { steps: ConvergenceStep[]; targetWidthNs: number | null; needed: RunLengthNeeded[] };
  /** The exceedance plot's data (peaks over threshold); null without a fit. */
  curve: ExceedanceCurve | null;
}

const CONVERGENCE_FRACTIONS = [0.25, 0.5, 0.75, 1] as const;

interface SelectedPot {
  tail: PotTail;
  selection: ThresholdSelection;
}

function potTail(data: TailData, upTo = 1): SelectedPot | string {
  const exceedances = data.exceedances;
  if (typeof exceedances === 'string') return exceedances;
  const latencies = exceedances.latenciesNs.filter((_, i) => exceedances.positions[i]! < upTo || upTo === 1);
  const total = Math.round(data.count * upTo);
  const sorted = Float64Array.from(latencies).sort();
  const selection = selectThreshold(sorted, { minExcesses: MIN_EXCESSES, maxExcesses: Math.min(MAX_EXCESSES, Math.floor(0.1 * total)) });
  if (!selection) return `${latencies.length} exceedances over ${exceedances.thresholdNs} ns; the fit needs more than ${MIN_EXCESSES}`;
  const excesses = Array.from(sorted.filter((value) => value > selection.threshold), (value) => value - selection.threshold);
  return { tail: new PotTail(selection.threshold, excesses, total), selection };
}

function bmTail(data: TailData, upTo = 1): BlockMaximaTail | string {
  if (typeof data.blockMaxima === 'string') return data.blockMaxima;
  const maxima = data.blockMaxima.maximaNs.slice(0, Math.floor(data.blockMaxima.maximaNs.length * upTo));
  if (maxima.length < MIN_BLOCKS) return `${maxima.length} block maxima; the fit needs ${MIN_BLOCKS}`;
  return new BlockMaximaTail(maxima, data.blockMaxima.blockSize);
}

function independenceChecks(data: TailData, alpha: number): Check[] | string {
  if (typeof data.blockMaxima === 'string') return `independence untested: ${data.blockMaxima}`;
  const maxima = data.blockMaxima.maximaNs;
  if (maxima.length < MIN_BLOCKS) return `independence untested: ${maxima.length} block maxima, the tests need ${MIN_BLOCKS}`;
  const verdicts: Record<string, [string, string]> = {
    'ljung-box': ['no autocorrelation found', 'the block maxima are autocorrelated (periodic or clustered spikes)'],
    runs: ['no trend or shift found', 'the block maxima trend or shift over the run'],
    kpss: ['the level is stationary', 'the level of the block maxima drifts over the run'],
  };
  return [ljungBox(maxima), runsTest(maxima), kpss(maxima)].map((result) => {
    const passed = result.pValue >= alpha;
    return { ...result, subject: 'block-maxima', passed, verdict: verdicts[result.name]![passed ? 0 : 1] };
  });
}

function fitCheck(result: TestResult, subject: Check['subject'], alpha: number, model: string): Check {
  const passed = result.pValue >= alpha;
  return { ...result, subject, passed, verdict: passed ? `the ${model} fits` : `the ${model} does not fit the data` };
}

function describeFailure(check: Check, alpha: number): string {
  const p = check.pValue < 1e-4 ? 'p<1e-4' : `p=${check.pValue.toPrecision(2)}`;
  return `${check.name} ${p} < ${alpha}: ${check.verdict}`;
}

function perHour(probability: number, wakeupsPerHour: number): number {
  return -Math.expm1(wakeupsPerHour * Math.log1p(-probability));
}

export function analyzeTail(data: TailData, options: AnalysisOptions = {}): TailAnalysis {
  const probabilities = options.probabilities ?? DEFAULT_PROBABILITIES;
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  const checks: Check[] = [];
  const commonProblems: string[] = [];
  const independence = independenceChecks(data, alpha);
  if (typeof independence === 'string') commonProblems.push(independence);
  else {
    checks.push(...independence);
    commonProblems.push(...independence.filter((check) => !check.passed).map((check) => describeFailure(check, alpha)));
  }

  const selectedPot = potTail(data);
  const pot = typeof selectedPot === 'string' ? selectedPot : selectedPot.tail;
  const bm = bmTail(data);
  const methods: { method: BoundMethod; tail: PotTail | BlockMaximaTail | string; problems: string[] }[] = [
    { method: 'pot-gpd', tail: pot, problems: [] },
    { method: 'bm-gev', tail: bm, problems: [] },
  ];
  if (typeof pot !== 'string') {
    const check = fitCheck(andersonDarlingTest(pot.excesses, GPD_MODEL, pot.fit), 'pot-excesses', alpha, 'generalized Pareto');
    checks.push(check);
    if (!check.passed) methods[0]!.problems.push(describeFailure(check, alpha));
    if (typeof data.exceedances !== 'string' && data.exceedances.incomplete) methods[0]!.problems.push(`exceedances may be missing: ${data.exceedances.incomplete}`);
  }
  if (typeof bm !== 'string') {
    const check = fitCheck(andersonDarlingTest(bm.maxima, GEV_MODEL, bm.fit), 'bm-maxima', alpha, 'GEV');
    checks.push(check);
    if (!check.passed) methods[1]!.problems.push(describeFailure(check, alpha));
    const lost = typeof data.blockMaxima === 'string' ? 0 : data.blockMaxima.lost;
    if (lost > 0) methods[1]!.problems.push(`${lost} block maxima were lost (the loop's block ring was full)`);
  }

  const bounds: Bound[] = [];
  for (const { method, tail, problems } of methods) {
    for (const probability of probabilities) {
      const base = { probability, method, perHourProbability: perHour(probability, data.wakeupsPerHour) };
      if (typeof tail === 'string') {
        bounds.push({ ...base, valueNs: null, lowerNs: null, upperNs: null, trustworthy: false, why: `no bound: ${tail}` });
        continue;
      }
      const level = tail.level(probability, confidence);
      if (!level) {
        bounds.push({ ...base, valueNs: null, lowerNs: null, upperNs: null, trustworthy: false, why: 'no bound: the probability is not beyond the threshold\'s exceedance rate' });
        continue;
      }
      const reasons = [...commonProblems, ...problems];
      if (level.upper === null) reasons.push('the interval has no upper end: the data cannot bound this probability');
      bounds.push({
        ...base,
        valueNs: level.value,
        lowerNs: level.lower,
        upperNs: level.upper,
        trustworthy: reasons.length === 0,
        why: reasons.length === 0 ? 'every check passed' : reasons.join('; '),
      });
    }
  }

  return {
    count: data.count,
    maxNs: data.maxNs,
    confidence,
    pot: typeof selectedPot === 'string' ? { unavailable: selectedPot } : potSummary(selectedPot),
    bm: typeof bm === 'string' ? { unavailable: bm } : bmSummary(bm),
    checks,
    bounds,
    convergence: convergence(data, probabilities, confidence, bounds, options.targetWidthNs ?? null),
    curve:
      typeof selectedPot === 'string'
        ? null
        : exceedanceCurve(selectedPot.tail, (data.exceedances as Exclude<TailData['exceedances'], string>).latenciesNs, data.count, Math.min(...probabilities), confidence),
  };
}

function potSummary({ tail, selection }: SelectedPot): PotSummary {
  return {
    thresholdNs: tail.threshold,
    excesses: tail.excesses.length,
    exceedanceRate: tail.exceedanceRate,
    cv: selection.cv,
    exponentialTail: selection.exponentialTail,
    scaleNs: tail.fit.scale,
    shape: tail.fit.shape,
  };
}

function bmSummary(tail: BlockMaximaTail): BmSummary {
  return { blockSize: tail.blockSize, blocks: tail.maxima.length, locationNs: tail.fit.location, scaleNs: tail.fit.scale, shape: tail.fit.shape };
}

function convergence(data: TailData, probabilities: readonly number[], confidence: number, finalBounds: Bound[], targetWidthNs: number | null): TailAnalysis['convergence'] {
  const steps = CONVERGENCE_FRACTIONS.map((fraction): ConvergenceStep => {
    if (fraction === 1) {
      return { fraction, count: data.count, bounds: finalBounds.map(({ probability, method, valueNs, lowerNs, upperNs }) => ({ probability, method, valueNs, lowerNs, upperNs })) };
    }
    const pot = potTail(data, fraction);
    const tails: [BoundMethod, PotTail | BlockMaximaTail | string][] = [
      ['pot-gpd', typeof pot === 'string' ? pot : pot.tail],
      ['bm-gev', bmTail(data, fraction)],
    ];
    return {
      fraction,
      count: Math.round(data.count * fraction),
      bounds: tails.flatMap(([method, tail]) =>
        probabilities.map((probability) => {
          const level = typeof tail === 'string' ? null : tail.level(probability, confidence);
          return { probability, method, valueNs: level?.value ?? null, lowerNs: level?.lower ?? null, upperNs: level?.upper ?? null };
        }),
      ),
    };
  });
  const needed: RunLengthNeeded[] =
    targetWidthNs === null
      ? []
      : finalBounds.map(({ probability, method, lowerNs, upperNs }) => {
          const widthNs = lowerNs === null || upperNs === null ? null : upperNs - lowerNs;
          // Interval widths of maximum-likelihood estimates shrink as 1/sqrt(n).
          const runLengthNs = widthNs === null ? null : widthNs <= targetWidthNs ? 0 : data.durationNs * (widthNs / targetWidthNs) ** 2;
          return { probability, method, widthNs, runLengthNs };
        });
  return { steps, targetWidthNs, needed };
}
