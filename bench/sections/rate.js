// 3. Highest rate: from long periods to short, each tool on every CPU, until neither keeps up. rtlat
// keeps up when it drops no sample (its JS side drains the rings as fast as the threads fill them) and
// its threads miss at most 1% of their periods; cyclictest has no ring, so only its missed periods count.
import { formatCpuList } from '../../dist/units.js';
import { percent, table, text } from '../lib/report.js';
import { missedShare } from '../lib/tools.js';

/** @typedef {import('../lib/context.js').BenchContext} BenchContext */
/** @typedef {import('../lib/tools.js').ToolRun} ToolRun */
/** @typedef {import('../lib/report.js').Section} Section */

const LADDER_US = { full: [200, 100, 50, 20, 10], quick: [100, 50, 20, 10] };
const DURATION_S = { full: 60, quick: 3 };
const MAX_MISSED_SHARE = 0.01;
const SAMPLE_MS = 500;

/** @typedef {{ periodUs: number, rtlat: ToolRun, cyclictest: ToolRun }} Step */

/** @param {ToolRun} toolRun */
function keepsUp(toolRun) {
  return toolRun.run.all.dropped === 0 && missedShare(toolRun) <= MAX_MISSED_SHARE;
}

/**
 * @param {BenchContext} context
 * @returns {Promise<Section>}
 */
export async function rateSection(context) {
  const { quick, cpus } = context.settings;
  const durationS = quick ? DURATION_S.quick : DURATION_S.full;
  /** @type {Step[]} */
  const steps = [];
  // A shorter period can only be harder: once both tools fail, the ladder ends.
  for (const periodUs of quick ? LADDER_US.quick : LADDER_US.full) {
    context.progress(`highest rate at ${periodUs}us: rtlat then cyclictest, ${durationS}s each`);
    const rtlat = await context.measure('rtlat', { periodUs, durationS, sampleMs: SAMPLE_MS });
    const cyclictest = await context.measure('cyclictest', { periodUs, durationS, sampleMs: SAMPLE_MS });
    steps.push({ periodUs, rtlat, cyclictest });
    if (!keepsUp(rtlat) && !keepsUp(cyclictest)) break;
  }

  const shortest = (/** @type {'rtlat' | 'cyclictest'} */ tool) => {
    // The shortest period reached before the tool first failed.
    let best = null;
    for (const step of steps) {
      if (!keepsUp(step[tool])) break;
      best = step.periodUs;
    }
    return best === null ? `none (not even ${steps[0]?.periodUs}us)` : `${best}us`;
  };
  const rows = steps.map(({ periodUs, rtlat, cyclictest }) => [
    `${periodUs}us`,
    String(rtlat.run.all.count), percent(missedShare(rtlat), 2), String(rtlat.run.all.dropped), keepsUp(rtlat) ? 'yes' : 'no',
    String(cyclictest.run.all.count), percent(missedShare(cyclictest), 2), keepsUp(cyclictest) ? 'yes' : 'no',
  ]);
  const first = steps[0];
  return {
    title: '3. Highest rate',
    blocks: [
      text(
        `Each period on every CPU (${formatCpuList(cpus)}), ${durationS}s per tool, from long to short until neither keeps up. ` +
          `missed = the worst thread's share of periods that passed without a wake-up. rtlat counts them (overruns); ` +
          'cyclictest skips them silently (after a late wake-up it moves its next one past now, and -q reports no ' +
          'overruns; -v lists only the wake-ups that happened), so its missed periods are derived: the periods from its ' +
          'first measuring thread\'s creation (/proc, 10 ms steps) to the end of -D, less the wake-ups it counted. ' +
          "(-D's clock starts before cyclictest creates its threads, which on a busy machine can take hundreds of ms.) " +
          'dropped = samples rtlat\'s JS ' +
          `side could not take from the rings in time. Keeps up: no sample dropped and at most ${percent(MAX_MISSED_SHARE, 0)} missed.`,
      ),
      table(['period', 'rtlat samples', 'rtlat missed', 'rtlat dropped', 'rtlat keeps up', 'cyclictest samples', 'cyclictest missed', 'cyclictest keeps up'], rows),
      text(`Shortest period kept up: rtlat ${shortest('rtlat')}, cyclictest ${shortest('cyclictest')}.`),
    ],
    targets: [],
    commands: first ? [first.rtlat.command, first.cyclictest.command] : [],
  };
}
