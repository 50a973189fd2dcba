// Choosing the threshold of a peaks-over-threshold fit by the residual coefficient of variation, as
// MBPTA-CV does (Abella et al., "Measurement-based worst-case execution time estimation using the
// coefficient of variation", ACM TODAES 22(4), 2017, after del Castillo et al.'s CV-plot): the excesses
// over a threshold have CV = 1 when the tail beyond it is exponential, and the CV of k excesses is then
// about normal with mean 1 and standard deviation 1/sqrt(k). Scanning candidate thresholds from the
// lowest, the first whose CV lies inside 1 +- z/sqrt(k) is taken: the lowest threshold beyond which the
// tail is exponential, so the most excesses for the fit. Where none is inside, the tail is not
// exponential at any candidate; the threshold with the smallest normalised distance is taken and the
// selection says so (the generalized Pareto fit's shape then carries the tail's weight).
import jstat from 'jstat';

export interface ThresholdCandidate {
  threshold: number;
  /** Excesses over it. */
  count: number;
  cv: number;
  /** The band of the exponential tail's CV at this count: 1 +- z/sqrt(count). */
  band: [number, number];
}

export interface ThresholdSelection {
  threshold: number;
  count: number;
  cv: number;
  /** True when the chosen threshold's CV is inside the exponential band. */
  exponentialTail: boolean;
  candidates: ThresholdCandidate[];
}

export interface ThresholdOptions {
  /** Fewest excesses a candidate may leave (default 50). */
  minExcesses?: number;
  /** Most excesses a candidate may leave (default 10% of the values, at least minExcesses). */
  maxExcesses?: number;
  /** Candidates scanned at most, spread evenly in count (default 60). */
  candidates?: number;
  /** Two-sided level of the band (default 0.05). */
  alpha?: number;
}

/**
 * Picks the threshold among order statistics of `values` (sorted ascending). Each candidate is a value
 * of the sample, and its excesses are the values strictly above it; null when there are too few values.
 */
export function selectThreshold(sortedValues: ArrayLike<number>, options: ThresholdOptions = {}): ThresholdSelection | null {
  const n = sortedValues.length;
  const minExcesses = options.minExcesses ?? 50;
  const maxExcesses = Math.min(n - 1, Math.max(minExcesses, options.maxExcesses ?? Math.floor(0.1 * n)));
  if (maxExcesses < minExcesses) return null;
  const z = jstat.normal.inv(1 - (options.alpha ?? 0.05) / 2, 0, 1);
  const steps = Math.max(1, Math.min(options.candidates ?? 60, maxExcesses - minExcesses + 1));
  // Suffix sums of the values and their squares give every candidate's mean and variance at once.
  const suffix = new Float64Array(n + 1);
  const suffixSquares = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) {
    suffix[i] = suffix[i + 1]! + sortedValues[i]!;
    suffixSquares[i] = suffixSquares[i + 1]! + sortedValues[i]! ** 2;
  }
  const candidates: ThresholdCandidate[] = [];
  const seen = new Set<number>();
  for (let step = steps - 1; step >= 0; step--) {
    const wanted = steps === 1 ? maxExcesses : Math.round(minExcesses + ((maxExcesses - minExcesses) * step) / (steps - 1));
    // Ties: the excesses are the values strictly above the threshold, so move to the tie's first copy.
    let index = n - wanted - 1;
    const threshold = sortedValues[index]!;
    while (index + 1 < n && sortedValues[index + 1] === threshold) index++;
    const count = n - index - 1;
    if (count < minExcesses || seen.has(threshold)) continue;
    seen.add(threshold);
    const sum = suffix[index + 1]! - count * threshold;
    const sumSquares = suffixSquares[index + 1]! - 2 * threshold * suffix[index + 1]! + count * threshold * threshold;
    const mean = sum / count;
    const variance = Math.max(0, (sumSquares - count * mean * mean) / (count - 1));
    const cv = mean > 0 ? Math.sqrt(variance) / mean : Infinity;
    candidates.push({ threshold, count, cv, band: [1 - z / Math.sqrt(count), 1 + z / Math.sqrt(count)] });
  }
  if (candidates.length === 0) return null;
  const inside = candidates.find((candidate) => candidate.cv >= candidate.band[0] && candidate.cv <= candidate.band[1]);
  const distance = (candidate: ThresholdCandidate) => Math.abs(candidate.cv - 1) * Math.sqrt(candidate.count);
  const chosen = inside ?? candidates.reduce((best, candidate) => (distance(candidate) < distance(best) ? candidate : best));
  return { threshold: chosen.threshold, count: chosen.count, cv: chosen.cv, exponentialTail: inside !== undefined, candidates };
}
