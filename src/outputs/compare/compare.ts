// Runs side by side: the same summary numbers for each, each run's ratio to the first (the baseline),
// and warnings for whatever makes the runs measure different things.
import type { RunFile } from '../../run-file/schema.js';
import { CLOCK, differences, LOAD, PERIOD, POLICY } from '../../run-file/configuration.js';
import type { LabeledRun } from '../../run-file/environment.js';

export type Metric = 'min' | 'avg' | 'p50' | 'p99' | 'p99.9' | 'p99.99' | 'max';

/** The compared latencies in column order; percentiles say which, the others are exact. */
export const METRICS: readonly { name: Metric; percentile: number | null }[] = [
  { name: 'min', percentile: null },
  { name: 'avg', percentile: null },
  { name: 'p50', percentile: 50 },
  { name: 'p99', percentile: 99 },
  { name: 'p99.9', percentile: 99.9 },
  { name: 'p99.99', percentile: 99.99 },
  { name: 'max', percentile: null },
];

export interface MetricValue {
  /** Null when the run kept no histogram (cyclictest imports without -h), so it has no percentiles. */
  valueNs: number | null;
  /** False for a percentile the run has too few samples for (10 beyond it are needed), or one that is only a bound. */
  reliable: boolean;
  /** True when valueNs is only a lower bound: the percentile lies beyond the run's histogram (cyclictest -h's overflows). */
  atLeast?: true;
  /** This value over the baseline's; null when either is missing or unreliable, or the baseline's is 0. */
  ratio: number | null;
}

export interface ComparedRun {
  label: string;
  file: string;
  tool: RunFile['tool'];
  count: number;
  overruns: number | null;
  metrics: Record<Metric, MetricValue>;
}

export interface Comparison {
  /** The first run's label: every ratio is to it. */
  baseline: string;
  runs: ComparedRun[];
  warnings: string[];
}

function metricsOf(run: RunFile): Record<Metric, Omit<MetricValue, 'ratio'>> {
  const { all } = run;
  const exact = (valueNs: number) => ({ valueNs, reliable: true });
  const entries = METRICS.map(({ name, percentile }) => {
    if (percentile === null) return [name, exact(name === 'min' ? all.minNs : name === 'avg' ? all.avgNs : all.maxNs)] as const;
    const value = all.percentiles.find((candidate) => candidate.percentile === percentile);
    if (!value) return [name, { valueNs: null, reliable: false }] as const;
    return [name, { valueNs: value.valueNs, reliable: value.reliable, ...(value.atLeast && { atLeast: value.atLeast }) }] as const;
  });
  return Object.fromEntries(entries) as Record<Metric, Omit<MetricValue, 'ratio'>>;
}

function ratio(value: Omit<MetricValue, 'ratio'>, baseline: Omit<MetricValue, 'ratio'>): number | null {
  if (value.valueNs === null || baseline.valueNs === null || !value.reliable || !baseline.reliable || baseline.valueNs === 0) return null;
  return value.valueNs / baseline.valueNs;
}

/** Warnings beyond configuration: runs whose numbers are not what they seem. */
function caveats(runs: readonly LabeledRun[]): string[] {
  const lines: string[] = [];
  for (const { label, run } of runs) {
    if (run.degraded.length > 0) lines.push(`${label} is a degraded run (not permitted: ${run.degraded.join('; ')})`);
    if (run.all.dropped > 0) lines.push(`${label} dropped ${run.all.dropped} samples (ring full): its percentiles leave them out`);
    if (run.guest?.emulated) lines.push(`${label} was measured in an emulated guest (QEMU TCG): its latencies are the emulator's, not a hypervisor's`);
  }
  return lines;
}

export interface CompareOptions {
  /** Settings the runs differ in on purpose (a sweep's period and load): not warned about. */
  varied?: readonly ('period' | 'load')[];
}

export function compareRuns(runs: readonly LabeledRun[], options: CompareOptions = {}): Comparison {
  const aspects = [PERIOD, POLICY, LOAD, CLOCK].filter((aspect) => !options.varied?.some((name) => name === aspect.name));
  const [first] = runs;
  if (!first) throw new RangeError('no runs to compare');
  const baseline = metricsOf(first.run);
  return {
    baseline: first.label,
    runs: runs.map(({ label, file, run }) => {
      const own = metricsOf(run);
      const metrics = Object.fromEntries(METRICS.map(({ name }) => [name, { ...own[name], ratio: ratio(own[name], baseline[name]) }]));
      return { label, file, tool: run.tool, count: run.all.count, overruns: run.all.overruns, metrics: metrics as Record<Metric, MetricValue> };
    }),
    warnings: [
      ...differences(runs.map(({ label, run }) => ({ name: label, run })), aspects),
      ...caveats(runs),
    ],
  };
}
