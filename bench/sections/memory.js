// 4. Memory: rtlat's resident memory over one long run at 50us on every CPU. Every sample goes through
// the rings into fixed-size histograms, so after the first minute nothing should grow.
import { formatDuration, NS_PER_S } from '../../dist/units.js';
import { fixed, percent, table, text } from '../lib/report.js';

/** @typedef {import('../lib/context.js').BenchContext} BenchContext */
/** @typedef {import('../lib/report.js').Section} Section */
/** @typedef {import('../lib/report.js').TargetCheck} TargetCheck */

const PERIOD_US = 50;
const SAMPLE_MS = 1_000;
const MARKS = 10;
const MAX_GROWTH = 0.05;

/**
 * The sample nearest each tenth of the run: for a 10-minute run, minute 1 to minute 10.
 * @param {{ atNs: number, rssKb: number }[]} memory
 * @param {number} durationNs
 */
function atMarks(memory, durationNs) {
  return Array.from({ length: MARKS }, (_, index) => {
    const markNs = ((index + 1) * durationNs) / MARKS;
    const nearest = memory.reduce((best, sample) => (Math.abs(sample.atNs - markNs) < Math.abs(best.atNs - markNs) ? sample : best));
    return { markNs, ...nearest };
  });
}

/**
 * @param {BenchContext} context
 * @returns {Promise<Section>}
 */
export async function memorySection(context) {
  const durationS = context.settings.memoryDurationS;
  const durationNs = durationS * NS_PER_S;
  context.progress(`memory: rtlat at ${PERIOD_US}us on every CPU for ${formatDuration(durationNs)}, RSS every ${SAMPLE_MS / 1000}s`);
  const toolRun = await context.measure('rtlat', { periodUs: PERIOD_US, durationS, sampleMs: SAMPLE_MS });
  const { memory } = toolRun.monitored;
  if (memory.length < MARKS) throw new Error(`memory: only ${memory.length} RSS samples in ${durationS}s`);
  const marks = atMarks(memory, durationNs);
  const firstMark = /** @type {(typeof marks)[number]} */ (marks[0]);
  const lastMark = /** @type {(typeof marks)[number]} */ (marks[MARKS - 1]);
  const growth = (lastMark.rssKb - firstMark.rssKb) / firstMark.rssKb;
  const firstSample = /** @type {(typeof memory)[number]} */ (memory[0]);
  const rows = [
    ['first sample', fixed(firstSample.atNs / NS_PER_S, 1), fixed(firstSample.rssKb / 1024, 1), ''],
    ...marks.map(({ markNs, atNs, rssKb }, index) => [
      `${index + 1}/${MARKS} (${formatDuration(markNs)})`, fixed(atNs / NS_PER_S, 1), fixed(rssKb / 1024, 1), percent((rssKb - firstMark.rssKb) / firstMark.rssKb, 2),
    ]),
    ['peak (VmHWM)', '', fixed(toolRun.monitored.peakRssKb / 1024, 1), ''],
  ];
  /** @type {TargetCheck} */
  const target = {
    name: `RSS growth from 1/${MARKS} of the run to its end (${formatDuration(durationNs / MARKS)} to ${formatDuration(durationNs)})`,
    goal: `< ${percent(MAX_GROWTH, 0)}`,
    measured: `${percent(growth, 2)} (${fixed((lastMark.rssKb - firstMark.rssKb) / 1024, 1)} MiB)`,
    met: growth < MAX_GROWTH,
  };
  if (!target.met) {
    target.miss =
      `${percent(growth - MAX_GROWTH, 2)} over. The rings are allocated up front and the histograms stop growing once ` +
      'their range is covered, so growth after the first tenth most likely comes from the JS heap (V8 grows it lazily ' +
      'and collects old space rarely). Find it with `node --trace-gc bin/rtlat measure ...` or a heap snapshot; what ' +
      'would close it is whatever the drain path keeps per interval, or a smaller --max-old-space-size.';
  }
  return {
    title: '4. Memory over a long run',
    blocks: [
      text(
        `rtlat at ${PERIOD_US}us on every CPU for ${formatDuration(durationNs)}, with --json; resident memory (VmRSS) read ` +
          `from /proc/<pid>/status every ${SAMPLE_MS / 1000}s. Growth is measured from the first tenth of the run, when ` +
          'start-up is over and the histograms have met most of their range. ' +
          `${toolRun.run.all.count} samples, ${toolRun.run.all.dropped} dropped.`,
      ),
      table(['mark', 'at s', 'RSS MiB', 'vs 1st mark'], rows),
      text(
        'The one-hour run uses the same method with marks every 6 minutes: ' +
          '`npm run bench -- --only memory --memory-duration 1h --out bench/RESULTS-memory-1h.md`.',
      ),
    ],
    targets: [target],
    commands: [toolRun.command],
  };
}
