// rtlat and cyclictest side by side: the same period, policy, priority, CPUs and duration for both,
// both read back as rtlat run files (cyclictest's JSON through rtlat's own importer).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importCyclictestJson } from '../../dist/import/cyclictest.js';
import { formatCpuList, NS_PER_US } from '../../dist/units.js';
import { RTLAT_VERSION } from '../../dist/version.js';
import { runMonitored } from './monitor.js';

/** @typedef {import('../../dist/run-file/schema.js').RunFile} RunFile */
/** @typedef {import('./monitor.js').MonitoredRun} MonitoredRun */
/** @typedef {'rtlat' | 'cyclictest'} Tool */

/**
 * @typedef {object} Plan
 * @property {number} periodUs
 * @property {number} durationS whole seconds: cyclictest's -D takes no less
 * @property {number[]} cpus one measuring thread on each
 * @property {string} jsonPath where the tool writes its result
 * @property {boolean} [histogram] cyclictest only: keep the per-us histogram that percentiles are read from
 */

/**
 * @typedef {object} ToolRun
 * @property {Tool} tool
 * @property {Plan} plan
 * @property {string} command as it would be typed in the repository
 * @property {RunFile} run
 * @property {MonitoredRun} monitored
 */

export const REPOSITORY = fileURLToPath(new URL('../..', import.meta.url));
const RTLAT_BIN = path.join(REPOSITORY, 'bin', 'rtlat');
/** cyclictest's -h: per-us buckets up to 10 ms; rarer, longer latencies are overflows (read as the maximum). */
const HISTOGRAM_US = 10_000;

/** @param {Plan} plan */
function rtlatArgv(plan) {
  return [
    process.execPath, RTLAT_BIN, 'measure', '--period', `${plan.periodUs}us`, '--duration', `${plan.durationS}s`,
    '--cpus', formatCpuList(plan.cpus), '--threads', String(plan.cpus.length), '--policy', 'fifo', '--priority', '99',
    '--quiet', '--json', plan.jsonPath,
  ];
}

// -m and cyclictest's default /dev/cpu_dma_latency of 0 match rtlat's defaults (memory locked, DMA
// latency held); -d 0 keeps every thread at the same period (cyclictest adds 500us per thread otherwise).
/** @param {Plan} plan */
function cyclictestArgv(plan) {
  return [
    'cyclictest', '-m', '--policy=fifo', '-p', '99', '-i', String(plan.periodUs), '-D', String(plan.durationS),
    '-t', String(plan.cpus.length), '-a', formatCpuList(plan.cpus), '-d', '0', '-q',
    ...(plan.histogram ? ['-h', String(HISTOGRAM_US)] : []), `--json=${plan.jsonPath}`,
  ];
}

/** @param {string[]} argv */
function asTyped(argv) {
  const shown = argv.map((arg) => (arg === process.execPath ? 'node' : arg.startsWith(REPOSITORY) ? path.relative(REPOSITORY, arg) : arg));
  return shown.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`)).join(' ');
}

/**
 * Runs one tool to the end of its plan, watching its CPU time and memory, and reads its result.
 * @param {Tool} tool
 * @param {Plan} plan
 * @param {{ sampleMs: number }} options
 * @returns {Promise<ToolRun>}
 */
export async function runTool(tool, plan, { sampleMs }) {
  const argv = tool === 'rtlat' ? rtlatArgv(plan) : cyclictestArgv(plan);
  const monitored = await runMonitored(argv, { sampleMs, expectedMs: plan.durationS * 1_000 });
  const text = readFileSync(plan.jsonPath, 'utf8');
  const run = tool === 'rtlat' ? /** @type {RunFile} */ (JSON.parse(text)) : importCyclictestJson(text, { rtlatVersion: RTLAT_VERSION });
  if (tool === 'rtlat') {
    // The CPU split counts the real-time tasks as the measuring threads: they must be the run's TIDs.
    const measuring = run.threads.map((thread) => thread.tid).sort((a, b) => (a ?? 0) - (b ?? 0));
    if (measuring.join() !== monitored.realtimeTids.join()) {
      throw new Error(`rtlat's measuring threads ${measuring.join(',')} are not the real-time tasks seen (${monitored.realtimeTids.join(',')})`);
    }
  }
  return { tool, plan, command: asTyped(argv), run, monitored };
}

/**
 * @typedef {object} LatencyRow whole microseconds, as cyclictest records them
 * @property {number} count
 * @property {number} minUs
 * @property {number} p50Us
 * @property {number} p99Us
 * @property {number} p999Us
 * @property {boolean} p999Reliable false below 10,000 samples
 * @property {number} maxUs
 */

/**
 * All threads together. cyclictest truncates every latency to whole microseconds before it counts it,
 * so rtlat's nanoseconds are truncated too: both sides then describe the same quantity, and a
 * percentile of truncated values is the truncated percentile.
 * @param {RunFile} run
 * @returns {LatencyRow}
 */
export function latencyRow(run) {
  const us = (/** @type {number} */ ns) => Math.floor(ns / NS_PER_US);
  const percentile = (/** @type {number} */ p) => {
    const value = run.all.percentiles.find((entry) => entry.percentile === p);
    if (!value) throw new Error(`the ${run.tool.name} run has no p${p} (was its histogram kept?)`);
    return value;
  };
  return {
    count: run.all.count,
    minUs: us(run.all.minNs),
    p50Us: us(percentile(50).valueNs),
    p99Us: us(percentile(99).valueNs),
    p999Us: us(percentile(99.9).valueNs),
    p999Reliable: percentile(99.9).reliable,
    maxUs: us(run.all.maxNs),
  };
}

/**
 * The share of its periods the worst thread missed. rtlat counts them (overruns). cyclictest skips
 * them without counting (after a late wake-up it advances its next wake-up past now), so they are
 * derived: the periods from its first measuring thread's creation to the end of -D, less the wake-ups
 * counted. (-D's clock starts in the main thread before it creates the threads, which on a busy
 * machine can take hundreds of ms.) Thread creation is read from /proc in 10 ms steps, and the
 * process's start stands for -D's, which follows it by a few ms (exec, mlockall): the result is good
 * to a few milliseconds' worth of periods.
 * @param {ToolRun} toolRun
 */
export function missedShare({ run, monitored }) {
  const measuredNs = (run.config.durationNs ?? 0) - monitored.realtimeStartDelayNs;
  return Math.max(
    ...run.threads.map((thread) => {
      const expected = thread.overruns !== null ? thread.count + thread.overruns : Math.floor(measuredNs / thread.periodNs);
      return expected > 0 ? Math.max(0, expected - thread.count) / expected : 0;
    }),
  );
}
