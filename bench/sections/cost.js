// 2. Cost: CPU time per sample of the whole process, rtlat against cyclictest, from the side-by-side
// runs at 50us on every CPU; and how much of rtlat's is the measuring threads versus the JS side.
import { fixed, median, percent, ratio, table, text } from '../lib/report.js';

/** @typedef {import('./fidelity.js').SideBySide} SideBySide */
/** @typedef {import('../lib/tools.js').ToolRun} ToolRun */
/** @typedef {import('../lib/report.js').Section} Section */
/** @typedef {import('../lib/report.js').TargetCheck} TargetCheck */

/**
 * CPU microseconds per sample, which is also CPU seconds per million samples.
 * @typedef {object} Cost
 * @property {number} samples
 * @property {number} cpuNs
 * @property {number} perSampleUs the whole process
 * @property {number} threadsPerSampleUs its measuring threads
 * @property {number} restPerSampleUs everything else
 * @property {number} threadsShare
 * @property {number} peakRssKb
 */

const COST_PERIOD_US = 50;
const MAX_COST_RATIO = 1.5;

/** @param {ToolRun} toolRun @returns {Cost} */
function costOf(toolRun) {
  const { cpuNs, realtimeCpuNs, peakRssKb } = toolRun.monitored;
  const samples = toolRun.run.all.count;
  return {
    samples,
    cpuNs,
    perSampleUs: ratio(cpuNs / 1_000, samples),
    threadsPerSampleUs: ratio(realtimeCpuNs / 1_000, samples),
    restPerSampleUs: ratio((cpuNs - realtimeCpuNs) / 1_000, samples),
    threadsShare: ratio(realtimeCpuNs, cpuNs),
    peakRssKb,
  };
}

/** The median of each column. @param {Cost[]} costs @returns {Cost} */
function medianCost(costs) {
  const of = (/** @type {(cost: Cost) => number} */ pick) => median(costs.map(pick));
  return {
    samples: of((cost) => cost.samples),
    cpuNs: of((cost) => cost.cpuNs),
    perSampleUs: of((cost) => cost.perSampleUs),
    threadsPerSampleUs: of((cost) => cost.threadsPerSampleUs),
    restPerSampleUs: of((cost) => cost.restPerSampleUs),
    threadsShare: of((cost) => cost.threadsShare),
    peakRssKb: of((cost) => cost.peakRssKb),
  };
}

/** @param {string} label @param {Cost} cost */
function costRow(label, cost) {
  return [
    label, String(Math.round(cost.samples)), fixed(cost.cpuNs / 1e9), fixed(cost.perSampleUs), fixed(cost.threadsPerSampleUs),
    fixed(cost.restPerSampleUs), percent(cost.threadsShare, 0), fixed(cost.peakRssKb / 1024, 1),
  ];
}

/**
 * @param {SideBySide[]} results
 * @param {boolean} quick
 * @returns {Section}
 */
export function costSection(results, quick) {
  const side = results.find((result) => result.periodUs === COST_PERIOD_US);
  if (!side) throw new Error(`cost: no side-by-side runs at ${COST_PERIOD_US}us`);
  const ours = side.pairs.map(({ rtlat }) => costOf(rtlat));
  const theirs = side.pairs.map(({ cyclictest }) => costOf(cyclictest));
  const ourMedian = medianCost(ours);
  const theirMedian = medianCost(theirs);
  const pairRatios = ours.map((cost, index) => ratio(cost.perSampleUs, theirs[index]?.perSampleUs ?? NaN));
  const costRatio = median(pairRatios.filter(Number.isFinite));
  const rows = [
    ...ours.flatMap((cost, index) => [costRow(`${index + 1} rtlat`, cost), costRow(`${index + 1} cyclictest`, /** @type {Cost} */ (theirs[index]))]),
    costRow('median rtlat', ourMedian),
    costRow('median cyclictest', theirMedian),
    ['median ratio', '', '', fixed(costRatio), '', '', '', ''],
  ];

  /** @type {TargetCheck} */
  const target = {
    name: `CPU per sample against cyclictest at ${COST_PERIOD_US}us, every CPU`,
    goal: `<= ${MAX_COST_RATIO}x`,
    measured: `${fixed(costRatio)}x`,
    met: Number.isFinite(costRatio) ? costRatio <= MAX_COST_RATIO : null,
  };
  if (target.met === false) {
    target.miss =
      `${fixed(costRatio - MAX_COST_RATIO)}x over. rtlat's measuring threads cost ` +
      `${fixed(ratio(ourMedian.threadsPerSampleUs, theirMedian.threadsPerSampleUs))}x cyclictest's, and its JS side ` +
      `${fixed(ourMedian.restPerSampleUs)} us per sample: each sample crosses into JS and is recorded into three HDR ` +
      'histograms (raw, corrected for coordinated omission, and the interval view), and Node starts up once per run. ' +
      'What would close it: drain the native ring into native histograms in the addon and hand JS only the merged ' +
      'histogram at each interval.';
  }
  return {
    title: '2. Cost: CPU time per sample',
    blocks: [
      text(
        `The ${COST_PERIOD_US}us side-by-side runs above (every CPU, ${side.durationS}s each). CPU = user + system time of the ` +
          "whole process at its exit (this process's reaped-children time before and after it), divided by the samples it " +
          'counted: us per sample, which is also CPU seconds per million samples. "threads" are its real-time tasks, the ' +
          'measuring threads (for rtlat, checked against the TIDs in its run file), read from /proc/<pid>/task/<tid>/stat ' +
          'every 100 ms while they lived; "rest" is everything else: for rtlat the JS side (Node start-up, draining, the ' +
          'HDR histograms, the run file), for cyclictest its main thread and start-up. 10 ms accounting steps (USER_HZ). ' +
          'ratio = rtlat / cyclictest per pair.' +
          (quick ? " In --quick mode the 2 s runs make Node's start-up a large part of rtlat's rest." : ''),
      ),
      table(['run', 'samples', 'CPU s', 'us/sample', 'threads', 'rest', 'threads %', 'peak RSS MiB'], rows),
    ],
    targets: [target],
    commands: [],
  };
}
