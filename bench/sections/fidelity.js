// 1. Fidelity: rtlat and cyclictest take turns (A B A B) with the same settings; both are read at
// cyclictest's whole-microsecond resolution and compared pair by pair. The same runs give the cost
// table (sections/cost.js).
import { formatCpuList, formatDuration, NS_PER_US } from '../../dist/units.js';
import { fixed, median, ratio, table, text } from '../lib/report.js';
import { latencyRow } from '../lib/tools.js';

/** @typedef {import('../lib/context.js').BenchContext} BenchContext */
/** @typedef {import('../lib/tools.js').ToolRun} ToolRun */
/** @typedef {import('../lib/tools.js').LatencyRow} LatencyRow */
/** @typedef {import('../lib/report.js').Section} Section */
/** @typedef {import('../lib/report.js').TargetCheck} TargetCheck */

/**
 * @typedef {object} SideBySide
 * @property {number} periodUs
 * @property {number} durationS
 * @property {{ rtlat: ToolRun, cyclictest: ToolRun }[]} pairs
 */

const PERIODS_US = [50, 1_000];
const DURATION_S = { full: 30, quick: 2 };
const SAMPLE_MS = 100;
const RATIO_BAND = { low: 0.9, high: 1.1 };
const TARGET_METRICS = ['p50', 'p99'];

/** @type {[string, 'minUs' | 'p50Us' | 'p99Us' | 'p999Us' | 'maxUs'][]} */
const METRICS = [['min', 'minUs'], ['p50', 'p50Us'], ['p99', 'p99Us'], ['p99.9', 'p999Us'], ['max', 'maxUs']];

/**
 * @param {BenchContext} context
 * @returns {Promise<SideBySide[]>}
 */
export async function runSideBySide(context) {
  const { quick, pairs } = context.settings;
  const durationS = quick ? DURATION_S.quick : DURATION_S.full;
  /** @type {SideBySide[]} */
  const results = [];
  for (const periodUs of PERIODS_US) {
    /** @type {SideBySide['pairs']} */
    const done = [];
    for (let pair = 1; pair <= pairs; pair++) {
      context.progress(`side by side at ${periodUs}us, pair ${pair}/${pairs}: rtlat then cyclictest, ${durationS}s each`);
      const rtlat = await context.measure('rtlat', { periodUs, durationS, sampleMs: SAMPLE_MS });
      const cyclictest = await context.measure('cyclictest', { periodUs, durationS, histogram: true, sampleMs: SAMPLE_MS });
      done.push({ rtlat, cyclictest });
    }
    results.push({ periodUs, durationS, pairs: done });
  }
  return results;
}

/** @param {LatencyRow} row @param {'minUs' | 'p50Us' | 'p99Us' | 'p999Us' | 'maxUs'} key */
function cell(row, key) {
  return key === 'p999Us' && !row.p999Reliable ? '(n<10k)' : String(row[key]);
}

/** Per pair, rtlat / cyclictest for each metric; NaN where a side has no trustworthy value. @param {LatencyRow} ours @param {LatencyRow} theirs */
function ratios(ours, theirs) {
  return METRICS.map(([, key]) => (key === 'p999Us' && !(ours.p999Reliable && theirs.p999Reliable) ? NaN : ratio(ours[key], theirs[key])));
}

/**
 * @param {SideBySide[]} results
 * @param {BenchContext} context
 * @returns {Section}
 */
export function fidelitySection(results, context) {
  const first = results[0]?.pairs[0];
  const blocks = [
    text(
      `Each pair runs rtlat, then cyclictest, with the same period, SCHED_FIFO 99, memory locked, ` +
        `/dev/cpu_dma_latency at 0, one thread pinned on each CPU of ${formatCpuList(context.settings.cpus)}. ` +
        'Latencies in whole us, all threads together: cyclictest truncates each latency to whole us before it counts it, ' +
        "so rtlat's nanoseconds are truncated the same way; cyclictest's percentiles come from its -h histogram " +
        "through rtlat's importer (src/import/cyclictest.ts). ratio = rtlat / cyclictest. " +
        'p99.9 needs 10,000 samples: (n<10k) marks fewer.',
    ),
  ];
  /** @type {TargetCheck[]} */
  const targets = [];
  for (const { periodUs, durationS, pairs } of results) {
    /** @type {string[][]} */
    const rows = [];
    /** @type {number[][]} */
    const pairRatios = [];
    pairs.forEach(({ rtlat, cyclictest }, index) => {
      const ours = latencyRow(rtlat.run);
      const theirs = latencyRow(cyclictest.run);
      const quotients = ratios(ours, theirs);
      pairRatios.push(quotients);
      rows.push([`${index + 1} rtlat`, String(ours.count), ...METRICS.map(([, key]) => cell(ours, key))]);
      rows.push([`${index + 1} cyclictest`, String(theirs.count), ...METRICS.map(([, key]) => cell(theirs, key))]);
      rows.push([`${index + 1} ratio`, '', ...quotients.map((value) => fixed(value))]);
    });
    const column = (/** @type {number} */ metric) => pairRatios.map((quotients) => quotients[metric] ?? NaN).filter(Number.isFinite);
    const medians = METRICS.map((_, metric) => median(column(metric)));
    rows.push(['median ratio', '', ...medians.map((value) => fixed(value))]);
    rows.push(['ratio range', '', ...METRICS.map((_, metric) => rangeOf(column(metric)))]);
    const period = formatDuration(periodUs * NS_PER_US);
    blocks.push(text(`Period ${period}, ${durationS}s per run, ${pairs.length} pairs (us):`));
    blocks.push(table(['run', 'samples', ...METRICS.map(([name]) => name)], rows));
    for (const name of TARGET_METRICS) {
      const metric = METRICS.findIndex(([label]) => label === name);
      targets.push(ratioTarget(`median ${name} ratio at ${period}`, medians[metric] ?? NaN, column(metric)));
    }
  }
  return {
    title: '1. Fidelity: rtlat against cyclictest',
    blocks,
    targets,
    commands: first ? [first.rtlat.command, first.cyclictest.command] : [],
  };
}

/** @param {number[]} values */
function rangeOf(values) {
  return values.length ? `${fixed(Math.min(...values))}..${fixed(Math.max(...values))}` : '-';
}

/**
 * @param {string} name
 * @param {number} medianRatio
 * @param {number[]} pairRatios
 * @returns {TargetCheck}
 */
function ratioTarget(name, medianRatio, pairRatios) {
  const goal = `${RATIO_BAND.low}..${RATIO_BAND.high}`;
  const met = Number.isFinite(medianRatio) ? medianRatio >= RATIO_BAND.low && medianRatio <= RATIO_BAND.high : null;
  /** @type {TargetCheck} */
  const check = { name, goal, measured: fixed(medianRatio), met };
  if (met === false) {
    const lower = medianRatio < RATIO_BAND.low;
    const outside = lower ? RATIO_BAND.low - medianRatio : medianRatio - RATIO_BAND.high;
    const bothWays = pairRatios.some((value) => value < 1) && pairRatios.some((value) => value > 1);
    check.miss =
      `${fixed(outside)} ${lower ? 'below' : 'above'} the band (pairs ranged ${rangeOf(pairRatios)}). ` +
      (bothWays
        ? 'The pairs disagree in direction, so run-to-run noise decides the median rather than a difference between the ' +
          'tools: other work on the machine (other processes, or on a shared host the hypervisor\'s steal; the header says ' +
          'how much there was) comes in bursts that land on one run and not on the next. '
        : `Every pair has rtlat ${lower ? 'lower' : 'higher'}: a consistent difference, not run-to-run noise. The loops ` +
          'are the same (clock_nanosleep TIMER_ABSTIME at SCHED_FIFO 99, pinned, memory locked, /dev/cpu_dma_latency ' +
          'at 0); what differs is what else each process runs on the measured CPUs. cyclictest pins its main thread to ' +
          "the -a CPUs, where it wakes up to 100 times a second; rtlat's JS thread may run on any of them and wakes every " +
          '100 ms to drain and record the rings. ') +
      'What would settle and close it: only the measuring threads on the measured CPUs (isolcpus, nohz_full; ' +
      "cyclictest --mainaffinity, and for rtlat a way to keep its own other threads elsewhere, which it lacks), then " +
      'longer runs and more pairs (bench/README.md).';
  }
  return check;
}
