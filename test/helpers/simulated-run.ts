// Run files whose threads' extremes come from a seeded simulation with a known tail, for the tests of
// rtlat analyze: latencies of 50 us plus an exponential of 2 us (so the latency exceeded with
// probability p is 50 us + 2 us * ln(1/p)), optionally with a drift or periodic spikes, kept as the
// engine keeps them.
import { seededUniform } from '../../src/measurement/analyze/random.js';
import type { Exceedance, ThreadExtremes } from '../../src/run-file/schema.js';
import type { RunFile } from '../../src/run-file/schema.js';
import { handBuiltRun, handBuiltThread } from './runs.js';

export const SIMULATED_PERIOD_NS = 1_000_000;

/** The true latency exceeded with probability p per wake-up. */
export function simulatedQuantileNs(p: number): number {
  return 50_000 + 2_000 * Math.log(1 / p);
}

/** A latency `extraNs` higher at every `everyCycles`-th wake-up (from the first). */
export interface SimulatedSpikes {
  everyCycles: number;
  extraNs: number;
}

/** As the engine keeps them at 1 ms: blocks of 2 s, the 4096 largest latencies. */
const BLOCK_SIZE = 2_000;
const KEPT = 4_096;

export function simulatedExtremes(count: number, seed: number, shape: { driftNs?: number; spikes?: SimulatedSpikes } = {}): { extremes: ThreadExtremes; maxNs: number } {
  const { driftNs = 0, spikes } = shape;
  const uniform = seededUniform(seed);
  const blockMaximaNs: number[] = [];
  const all: Exceedance[] = [];
  let blockMax = -Infinity;
  for (let cycle = 0; cycle < count; cycle++) {
    const spikeNs = spikes && cycle % spikes.everyCycles === 0 ? spikes.extraNs : 0;
    const latencyNs = Math.round(50_000 - 2_000 * Math.log(uniform()) + (driftNs * cycle) / count + spikeNs);
    blockMax = Math.max(blockMax, latencyNs);
    if ((cycle + 1) % BLOCK_SIZE === 0) {
      blockMaximaNs.push(blockMax);
      blockMax = -Infinity;
    }
    all.push({ cycle, latencyNs, dueNs: (cycle + 1) * SIMULATED_PERIOD_NS });
  }
  const largest = [...all].sort((a, b) => b.latencyNs - a.latencyNs).slice(0, KEPT);
  const thresholdNs = largest.at(-1)!.latencyNs;
  return {
    extremes: { blockSize: BLOCK_SIZE, blockMaximaNs, blocksLost: 0, thresholdNs, exceedances: largest.sort((a, b) => a.cycle - b.cycle) },
    maxNs: largest[0]!.latencyNs,
  };
}

/** A run of `threads` simulated threads of `count` wake-ups at 1 ms each. */
export function simulatedRun(options: { count?: number; seeds?: number[]; driftNs?: number; spikes?: SimulatedSpikes } = {}): RunFile {
  const count = options.count ?? 600_000;
  const threads = (options.seeds ?? [1]).map((seed, thread) => {
    const { extremes, maxNs } = simulatedExtremes(count, seed, options);
    return handBuiltThread({ thread, periodNs: SIMULATED_PERIOD_NS, count, minNs: 50_000, avgNs: 52_000, maxNs, extremes });
  });
  const run = handBuiltRun(threads);
  return { ...run, config: { ...run.config, periodNs: SIMULATED_PERIOD_NS, distanceNs: 0, loops: count } };
}
