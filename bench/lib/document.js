// RESULTS.md: the machine, how busy it was, the date and commands, the targets against what was
// measured, then every section's tables.
import os from 'node:os';
import { formatFingerprint, describeEnvironment } from '../../dist/index.js';
import { formatCpuList, NS_PER_S } from '../../dist/units.js';
import { RTLAT_VERSION } from '../../dist/version.js';
import { percent, sectionAsMarkdown } from './report.js';
import { renderTable } from '../../dist/outputs/grid.js';

/** @typedef {import('../../dist/index.js').Fingerprint} Fingerprint */
/** @typedef {import('./report.js').Section} Section */
/** @typedef {import('./report.js').TargetCheck} TargetCheck */

/**
 * @typedef {object} Circumstances
 * @property {Date} startedAt
 * @property {number} wallNs
 * @property {string} invocation how the benchmark was started
 * @property {boolean} quick
 * @property {number[]} cpus
 * @property {Fingerprint} fingerprint
 * @property {string | null} cyclictestVersion
 * @property {number} loadAverage one-minute load average at the start
 * @property {number} otherWorkShare CPU time of other processes while this ran, as a share of all CPUs' time
 * @property {string} otherWorkSource where the machine's task time was read (readMachineCpu)
 * @property {number} stealShare time the hypervisor stole, as a share of all CPUs' time
 */

/** Other processes using more of the machine than this make the numbers preliminary. */
export const QUIET_MACHINE_SHARE = 0.05;

/** @param {TargetCheck[]} targets @param {'text' | 'markdown'} format */
export function targetsTable(targets, format) {
  return renderTable(
    ['target', 'goal', 'measured', 'met'],
    targets.map((target) => [target.name, target.goal, target.measured, target.met === null ? 'not measured' : target.met ? 'yes' : 'NO']),
    format,
  );
}

/**
 * @param {Section[]} sections
 * @param {TargetCheck[]} targets
 * @param {Circumstances} circumstances
 */
export function resultsDocument(sections, targets, circumstances) {
  const { fingerprint, quick } = circumstances;
  const warnings = [];
  if (circumstances.otherWorkShare > QUIET_MACHINE_SHARE) {
    warnings.push(
      `> **Preliminary: taken while other work ran.** Other processes used ${percent(circumstances.otherWorkShare)} of the ` +
        `CPUs' time during this run (one-minute load average ${circumstances.loadAverage.toFixed(2)} at the start). ` +
        'Run it again on a quiet machine before reading anything into it.',
    );
  }
  if (quick) {
    warnings.push(
      '> **Quick run** (`--quick`): seconds where the full run takes minutes (see the run lengths in each section). It checks ' +
        'that everything works; its numbers are indicative only.',
    );
  }
  const machine = [
    ['environment', describeEnvironment(fingerprint)],
    ['nproc', String(os.availableParallelism())],
    ['CPU model', fingerprint.cpus.modelName.value ?? '-'],
    ['kernel', `${fingerprint.kernel.release.value ?? '-'} (${fingerprint.kernel.version.value ?? '-'})`],
    ['measured CPUs', formatCpuList(circumstances.cpus)],
    ['rtlat / cyclictest / Node', `${RTLAT_VERSION} / ${circumstances.cyclictestVersion ?? '-'} / ${process.version}`],
    ['load average (1 min) at the start', circumstances.loadAverage.toFixed(2)],
    ['other processes during the run', `${percent(circumstances.otherWorkShare)} of the CPUs' time (the machine's task time from ${circumstances.otherWorkSource}, less rtlat's and cyclictest's)`],
    ['stolen by the hypervisor', `${percent(circumstances.stealShare)} of the CPUs' time`],
  ];
  const misses = targets.filter((target) => target.met === false && target.miss);
  const commands = [circumstances.invocation, ...sections.flatMap((section) => section.commands)];
  return [
    '# rtlat benchmark results',
    '',
    ...warnings.flatMap((warning) => [warning, '']),
    `Written by \`${circumstances.invocation}\` on ${circumstances.startedAt.toISOString()}; the run took ` +
      `${minutesAndSeconds(circumstances.wallNs)}. How to read it, and how to run it on a real host: [README.md](README.md).`,
    '',
    '## Machine',
    '',
    ...machine.map(([what, value]) => `- ${what}: ${value}`),
    '',
    '<details><summary>Full environment fingerprint</summary>',
    '',
    '```',
    formatFingerprint(fingerprint).trimEnd(),
    '```',
    '',
    '</details>',
    '',
    '## Targets',
    '',
    targetsTable(targets, 'markdown'),
    ...(misses.length ? ['Where a target is missed:', '', ...misses.map((target) => `- **${target.name}**: ${target.miss}`), ''] : []),
    '## Commands',
    '',
    'The benchmark, then one run of each kind (every run of a kind differs only in its period and file names):',
    '',
    '```sh',
    ...commands,
    '```',
    '',
    ...sections.map(sectionAsMarkdown),
  ].join('\n');
}

/** @param {number} ns */
function minutesAndSeconds(ns) {
  const seconds = Math.round(ns / NS_PER_S);
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}
