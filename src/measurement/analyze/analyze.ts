// `rtlat analyze` as a library call: a run file in, per thread and for all threads together the
// pWCET-style bounds with their checks and convergence, and (with a task set) the schedulability of
// the tasks with the chosen latency bound as release jitter.
import { OptionError } from '../../errors.js';
import type { RunFile, RunThread } from '../../run-file/schema.js';
import { NS_PER_S } from '../../units.js';
import { analyzeTail, DEFAULT_ALPHA, DEFAULT_CONFIDENCE, DEFAULT_PROBABILITIES, type AnalysisOptions, type Bound, type TailAnalysis, type TailData } from './pwcet.js';
import { analyseTaskSet, type SchedulabilityResult } from './schedulability/schedulability.js';
import type { TaskSet } from './schedulability/taskset.js';

export const ANALYSIS_SCHEMA = 'rtlat.analysis';
export const ANALYSIS_SCHEMA_VERSION = 1;

const NS_PER_HOUR = 3_600 * NS_PER_S;

/** Which latency the task set is checked with: the run's maximum, a pWCET bound, or a given value. */
export type LatencyChoice = { kind: 'max' } | { kind: 'pwcet'; probability: number } | { kind: 'value'; latencyNs: number };

export interface ThreadAnalysis extends TailAnalysis {
  thread: number;
  cpu: number | null;
  periodNs: number;
}

export interface ChosenLatency {
  /** As given: "max", "pwcet:1e-9" or the value. */
  choice: string;
  latencyNs: number;
  /** For a pWCET bound: the bound whose interval's upper end was taken. */
  bound: Bound | null;
  trustworthy: boolean;
  why: string;
}

export interface RunAnalysis {
  threads: ThreadAnalysis[];
  all: TailAnalysis & { threads: number };
  schedulability: (SchedulabilityResult & { latency: ChosenLatency }) | null;
}

export interface AnalysisDocument {
  schema: typeof ANALYSIS_SCHEMA;
  schemaVersion: typeof ANALYSIS_SCHEMA_VERSION;
  probabilities: number[];
  confidence: number;
  alpha: number;
  runs: (RunAnalysis & { file: string })[];
}

function noExtremes(thread: RunThread): string | null {
  if (thread.extremes === undefined) return 'the run file is from before rtlat kept block maxima and exceedances';
  if (thread.extremes === null) return 'the run kept no order of its samples (an import)';
  return null;
}

/**
 * The maximum of each `factor` consecutive blocks: blocks `factor` times as long, from the blocks the
 * run kept (a last, incomplete group is left out).
 */
function longerBlocks(maximaNs: readonly number[], factor: number): number[] {
  return Array.from({ length: Math.floor(maximaNs.length / factor) }, (_, i) => Math.max(...maximaNs.slice(i * factor, (i + 1) * factor)));
}

/**
 * What one thread kept, as the extreme-value fits take it; with `blockSize`, its block maxima over
 * blocks of that many wake-ups, a whole multiple of the blocks it kept.
 */
export function threadTailData(thread: RunThread, blockSize?: number): TailData {
  const missing = noExtremes(thread);
  const extremes = thread.extremes;
  const base = {
    count: thread.count,
    durationNs: (thread.count + (thread.overruns ?? 0)) * thread.periodNs,
    wakeupsPerHour: NS_PER_HOUR / thread.periodNs,
    maxNs: thread.maxNs,
  };
  if (missing || !extremes) return { ...base, blockMaxima: missing!, exceedances: missing! };
  const kept = extremes.blockSize;
  if (blockSize !== undefined && kept > 0 && !(Number.isSafeInteger(blockSize) && blockSize > 0 && blockSize % kept === 0)) {
    throw new OptionError('block-size', blockSize, `a whole multiple of the ${kept} wake-ups each block of thread ${thread.thread} holds`);
  }
  const factor = blockSize === undefined ? 1 : blockSize / kept;
  return {
    ...base,
    blockMaxima: kept > 0 ? { blockSize: kept * factor, maximaNs: factor === 1 ? extremes.blockMaximaNs : longerBlocks(extremes.blockMaximaNs, factor), lost: extremes.blocksLost } : 'the run kept no block maxima',
    exceedances:
      extremes.thresholdNs === null
        ? 'the thread measured nothing'
        : {
            thresholdNs: extremes.thresholdNs,
            latenciesNs: extremes.exceedances.map((exceedance) => exceedance.latencyNs),
            positions: extremes.exceedances.map((exceedance) => exceedance.cycle / Math.max(1, thread.count)),
            incomplete: thread.dropped > 0 ? `${thread.dropped} samples were dropped from a full ring before the recorder saw them` : null,
          },
  };
}

/**
 * All threads as one series: their exceedances pooled above the highest of their thresholds, and
 * block maxima as the maximum over threads of each block, when every thread kept blocks of one size
 * at one period (a block then holds that many wake-ups of every thread).
 */
export function allThreadsTailData(run: RunFile, blockSize?: number): TailData {
  const parts = run.threads.map((thread) => threadTailData(thread, blockSize));
  const base = {
    count: parts.reduce((sum, part) => sum + part.count, 0),
    durationNs: Math.max(0, ...parts.map((part) => part.durationNs)),
    wakeupsPerHour: parts.reduce((sum, part) => sum + part.wakeupsPerHour, 0),
    maxNs: run.all.maxNs,
  };
  const firstMissing = <T>(values: (T | string)[]): string | null => (values.find((value) => typeof value === 'string') as string | undefined) ?? null;

  let blockMaxima: TailData['blockMaxima'];
  const blocks = parts.map((part) => part.blockMaxima);
  const missingBlocks = firstMissing(blocks);
  if (missingBlocks !== null) blockMaxima = missingBlocks;
  else {
    const kept = blocks as Exclude<TailData['blockMaxima'], string>[];
    const sizes = new Set(kept.map((part) => part.blockSize));
    const periods = new Set(run.threads.map((thread) => thread.periodNs));
    if (sizes.size > 1 || periods.size > 1) blockMaxima = 'the threads kept blocks of different lengths (different periods): no block maxima for all of them';
    else {
      const length = Math.min(...kept.map((part) => part.maximaNs.length));
      blockMaxima = {
        blockSize: kept[0]!.blockSize * kept.length,
        maximaNs: Array.from({ length }, (_, i) => Math.max(...kept.map((part) => part.maximaNs[i]!))),
        lost: kept.reduce((sum, part) => sum + part.lost, 0),
      };
    }
  }

  let exceedances: TailData['exceedances'];
  const lists = parts.map((part) => part.exceedances);
  const missingLists = firstMissing(lists);
  if (missingLists !== null) exceedances = missingLists;
  else {
    const kept = lists as Exclude<TailData['exceedances'], string>[];
    const thresholdNs = Math.max(...kept.map((part) => part.thresholdNs));
    const pooled = kept
      .flatMap((part) => part.latenciesNs.map((latencyNs, i) => ({ latencyNs, position: part.positions[i]! })))
      .filter((entry) => entry.latencyNs >= thresholdNs)
      .sort((a, b) => a.position - b.position);
    const incomplete = kept.map((part) => part.incomplete).filter((why): why is string => why !== null);
    exceedances = {
      thresholdNs,
      latenciesNs: pooled.map((entry) => entry.latencyNs),
      positions: pooled.map((entry) => entry.position),
      incomplete: incomplete.length ? incomplete.join('; ') : null,
    };
  }
  return { ...base, blockMaxima, exceedances };
}

/** The latency the task set is checked with, from the analysis of all threads. */
export function chooseLatency(choice: LatencyChoice, all: TailAnalysis, text: string): ChosenLatency {
  if (choice.kind === 'value') return { choice: text, latencyNs: choice.latencyNs, bound: null, trustworthy: true, why: 'given' };
  if (choice.kind === 'max') {
    return { choice: text, latencyNs: all.maxNs, bound: null, trustworthy: false, why: 'the largest latency measured: one sample, no bound on the next run' };
  }
  // The upper end of the interval, the bound's safe side: the larger of the two methods', preferring trustworthy ones.
  const candidates = all.bounds.filter((bound) => bound.probability === choice.probability && bound.upperNs !== null);
  const trusted = candidates.filter((bound) => bound.trustworthy);
  const pool = trusted.length ? trusted : candidates;
  if (pool.length === 0) {
    const why = all.bounds.filter((bound) => bound.probability === choice.probability).map((bound) => `${bound.method}: ${bound.why}`).join('; ');
    throw new RangeError(`no bound at ${choice.probability} has an upper end to use as the latency (${why || 'that probability was not analysed'})`);
  }
  const bound = pool.reduce((worst, candidate) => (candidate.upperNs! > worst.upperNs! ? candidate : worst));
  return { choice: text, latencyNs: Math.ceil(bound.upperNs!), bound, trustworthy: bound.trustworthy, why: bound.why };
}

export interface RunAnalysisOptions extends AnalysisOptions {
  taskSet?: TaskSet | null;
  latency?: LatencyChoice;
  /** How the latency choice was written, for the output ("pwcet:1e-9"). */
  latencyText?: string;
  /** Wake-ups of each thread a block of the block maxima holds: a whole multiple of what the run kept (default: as kept). */
  blockSize?: number;
}

export function analyzeRun(run: RunFile, options: RunAnalysisOptions = {}): RunAnalysis {
  const { blockSize } = options;
  const threads = run.threads.map((thread) => ({ thread: thread.thread, cpu: thread.cpu, periodNs: thread.periodNs, ...analyzeTail(threadTailData(thread, blockSize), options) }));
  // One thread: "all threads" is that thread; its analysis is not repeated.
  const all = { threads: run.threads.length, ...(threads.length === 1 ? stripThread(threads[0]!) : analyzeTail(allThreadsTailData(run, blockSize), options)) };
  let schedulability: RunAnalysis['schedulability'] = null;
  if (options.taskSet) {
    const latency = chooseLatency(options.latency ?? { kind: 'max' }, all, options.latencyText ?? 'max');
    schedulability = { ...analyseTaskSet(options.taskSet, latency.latencyNs), latency };
  }
  return { threads, all, schedulability };
}

function stripThread({ thread: _thread, cpu: _cpu, periodNs: _periodNs, ...rest }: ThreadAnalysis): TailAnalysis {
  return rest;
}

export function analysisDocument(runs: { file: string; analysis: RunAnalysis }[], options: AnalysisOptions): AnalysisDocument {
  return {
    schema: ANALYSIS_SCHEMA,
    schemaVersion: ANALYSIS_SCHEMA_VERSION,
    probabilities: [...(options.probabilities ?? DEFAULT_PROBABILITIES)],
    confidence: options.confidence ?? DEFAULT_CONFIDENCE,
    alpha: options.alpha ?? DEFAULT_ALPHA,
    runs: runs.map(({ file, analysis }) => ({ file, ...analysis })),
  };
}
