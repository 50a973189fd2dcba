// The one way latency statistics of several parts (threads, runs) combine into those of the whole:
// counts and sums add, min and max are taken over the parts that counted any sample (an empty part's
// 0 is no minimum), and the mean is the sum over the count. The probe sums each thread's exact
// native counters; the importer and merge, which keep only a mean, sum mean x count.

/** A part's exact statistics: its sum of latencies, or its mean (then the sum is mean x count). */
export type LatencyPart = { count: number; minNs: number; maxNs: number } & ({ sumNs: number } | { avgNs: number });

export interface CombinedLatency {
  count: number;
  minNs: number;
  maxNs: number;
  sumNs: number;
  /** 0 when nothing was counted. */
  avgNs: number;
}

export function combineLatencies(parts: readonly LatencyPart[]): CombinedLatency {
  const counted = parts.filter((part) => part.count > 0);
  const count = parts.reduce((total, part) => total + part.count, 0);
  const sumNs = parts.reduce((total, part) => total + ('sumNs' in part ? part.sumNs : part.avgNs * part.count), 0);
  return {
    count,
    minNs: counted.length ? Math.min(...counted.map((part) => part.minNs)) : 0,
    maxNs: counted.length ? Math.max(...counted.map((part) => part.maxNs)) : 0,
    sumNs,
    avgNs: count ? sumNs / count : 0,
  };
}
