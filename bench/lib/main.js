// The benchmark run: read the options, run the sections one after another (never two measurements at
// once), print each section's tables as it ends, and write RESULTS.md with the targets on top.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../../dist/outputs/atomic-file.js';
import { OptionError } from '../../dist/errors.js';
import { readFingerprint } from '../../dist/index.js';
import { usableCpus } from '../../dist/engine/system.js';
import { DURATION_RULE, formatCpuList, NS_PER_S, parseCpuList, parseDurationNs, parseInteger } from '../../dist/units.js';
import { backendSection } from '../sections/backend.js';
import { costSection } from '../sections/cost.js';
import { embeddedSection } from '../sections/embedded.js';
import { fidelitySection, runSideBySide } from '../sections/fidelity.js';
import { memorySection } from '../sections/memory.js';
import { rateSection } from '../sections/rate.js';
import { BenchContext } from './context.js';
import { resultsDocument, targetsTable } from './document.js';
import { readMachineCpu, reapedChildrenCpuNs } from './proc.js';
import { sectionAsText } from './report.js';
import { REPOSITORY } from './tools.js';

/** @typedef {import('./report.js').Section} Section */
/** @typedef {import('./report.js').TargetCheck} TargetCheck */

const SECTIONS = ['fidelity', 'rate', 'memory', 'backend'];
const MIN_PAIRS = 5;
const MEMORY_DURATION = { full: '10m', quick: '30s' };
const MEMORY_MIN_S = 10;
const DROP_CHECK_PERIOD_US = 50;

const USAGE = `usage: npm run bench -- [options]

  --quick                  seconds instead of minutes (about 2 minutes in all); numbers indicative only
  --cpus <list>            CPUs to measure, one thread each (default: every CPU this process may use)
  --pairs <n>              rtlat/cyclictest pairs per period, at least ${MIN_PAIRS} (default ${MIN_PAIRS})
  --memory-duration <time> length of the memory run (default ${MEMORY_DURATION.full}; --quick: ${MEMORY_DURATION.quick})
  --only <list>            run only some of: ${SECTIONS.join(', ')} (fidelity includes the cost table);
                           prints the tables and writes a file only with --out
  --out <file>             where to write the results (default bench/RESULTS.md)
`;

/** @param {string[]} argv @returns {Promise<number>} the exit code */
export async function main(argv) {
  let options;
  try {
    options = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof OptionError ? `--${error.message}` : error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if ((options.only.has('fidelity') || options.only.has('rate')) && spawnSync('cyclictest', ['--help'], { stdio: 'ignore' }).error) {
    process.stderr.write('bench: cyclictest is not installed (Debian: apt-get install rt-tests)\n');
    return 1;
  }
  const context = new BenchContext(options.settings);
  try {
    await runBenchmark(context, options);
    return 0;
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    context.close();
  }
}

/**
 * @param {string[]} argv
 * @returns {'help' | { settings: import('./context.js').BenchSettings, only: Set<string>, outPath: string | null, invocation: string }}
 */
function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      cpus: { type: 'string' },
      pairs: { type: 'string' },
      'memory-duration': { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  const only = new Set(values.only === undefined ? SECTIONS : values.only.split(',').map((name) => name.trim()));
  for (const name of only) if (!SECTIONS.includes(name)) throw new OptionError('only', values.only, `a list of ${SECTIONS.join(', ')}`);
  const memoryDurationNs = parseDurationNs('memory-duration', values['memory-duration'] ?? (quick ? MEMORY_DURATION.quick : MEMORY_DURATION.full), DURATION_RULE);
  if (memoryDurationNs < MEMORY_MIN_S * NS_PER_S || memoryDurationNs % NS_PER_S !== 0) {
    throw new OptionError('memory-duration', values['memory-duration'], `whole seconds, at least ${MEMORY_MIN_S}s`);
  }
  const { allowed } = usableCpus();
  const cpus = values.cpus === undefined ? allowed : parseCpuList('cpus', values.cpus);
  if (cpus.some((cpu) => !allowed.includes(cpu))) {
    throw new OptionError('cpus', values.cpus, `CPUs in this process's affinity mask (${formatCpuList(allowed)}; widen it with taskset)`);
  }
  const outPath = values.out !== undefined ? path.resolve(values.out) : values.only === undefined ? path.join(REPOSITORY, 'bench', 'RESULTS.md') : null;
  return {
    settings: {
      quick,
      cpus,
      pairs: values.pairs === undefined ? MIN_PAIRS : parseInteger('pairs', values.pairs, MIN_PAIRS, 100),
      memoryDurationS: memoryDurationNs / NS_PER_S,
    },
    only,
    outPath,
    invocation: ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
  };
}

/**
 * @param {BenchContext} context
 * @param {Exclude<ReturnType<typeof parseOptions>, 'help'>} options
 */
async function runBenchmark(context, { only, outPath, invocation }) {
  const startedAt = new Date();
  const startNs = process.hrtime.bigint();
  const loadAverage = os.loadavg()[0] ?? 0;
  const fingerprint = readFingerprint();
  const machineBefore = readMachineCpu();
  const selfBefore = process.cpuUsage();
  const childrenBefore = reapedChildrenCpuNs();

  /** @type {Section[]} */
  const sections = [];
  const done = (/** @type {Section} */ section) => {
    sections.push(section);
    process.stdout.write(`\n${sectionAsText(section)}`);
  };
  if (only.has('fidelity')) {
    const sideBySide = await runSideBySide(context);
    done(fidelitySection(sideBySide, context));
    done(costSection(sideBySide, context.settings.quick));
  }
  if (only.has('rate')) done(await rateSection(context));
  if (only.has('memory')) done(await memorySection(context));
  if (only.size === SECTIONS.length) done(embeddedSection());
  if (only.has('backend')) done(await backendSection(context));

  const wallNs = Number(process.hrtime.bigint() - startNs);
  const machineAfter = readMachineCpu();
  const self = process.cpuUsage(selfBefore);
  const oursNs = (self.user + self.system) * 1_000 + (reapedChildrenCpuNs() - childrenBefore);
  // /proc/stat counts every online CPU.
  const capacityNs = wallNs * usableCpus().online.length;
  const targets = [...sections.flatMap((section) => section.targets), droppedTarget(context)];
  process.stdout.write(`\n== Targets\n\n${targetsTable(targets, 'text')}`);
  for (const target of targets) if (target.met === false && target.miss) process.stdout.write(`\nmissed: ${target.name}: ${target.miss}\n`);
  if (outPath) {
    writeFileAtomic(
      outPath,
      resultsDocument(sections, targets, {
        startedAt,
        wallNs,
        invocation,
        quick: context.settings.quick,
        cpus: context.settings.cpus,
        fingerprint,
        cyclictestVersion: context.cyclictestVersion,
        loadAverage,
        otherWorkShare: Math.max(0, machineAfter.busyNs - machineBefore.busyNs - oursNs) / capacityNs,
        otherWorkSource: machineAfter.busySource,
        stealShare: (machineAfter.stealNs - machineBefore.stealNs) / capacityNs,
      }),
    );
    const shown = path.relative(process.cwd(), outPath);
    process.stdout.write(`\nwrote ${shown.startsWith('..') ? outPath : shown}\n`);
  }
}

/** Every rtlat run at 50us, in any section: not one sample may have been dropped. @param {BenchContext} context @returns {TargetCheck} */
function droppedTarget(context) {
  const runs = context.rtlatRuns.filter((toolRun) => toolRun.plan.periodUs === DROP_CHECK_PERIOD_US);
  const dropped = runs.reduce((sum, toolRun) => sum + toolRun.run.all.dropped, 0);
  const samples = runs.reduce((sum, toolRun) => sum + toolRun.run.all.count, 0);
  /** @type {TargetCheck} */
  const target = {
    name: `dropped samples at ${DROP_CHECK_PERIOD_US}us on every CPU`,
    goal: '0',
    measured: runs.length ? `${dropped} in ${runs.length} runs (${samples} samples)` : '-',
    met: runs.length ? dropped === 0 : null,
  };
  if (dropped > 0) {
    target.miss =
      `${dropped} samples (${((dropped / samples) * 100).toFixed(4)}%) did not fit in the rings: the JS side did not drain ` +
      'them within the 4 s the rings hold, i.e. the event loop was starved for that long (the measuring threads at ' +
      'SCHED_FIFO on every CPU leave it only what they do not use). What would close it: a housekeeping CPU for the JS ' +
      'side, or larger rings (ringCapacity).';
  }
  return target;
}
