#!/usr/bin/env node
// What `rtlat measure --explain` costs: rtlat with and without it, interleaved (each pair's first arm
// alternates: without/with, with/without, ...), same settings, at 50us and at 1ms: p50, p99 and the
// process's CPU time per sample, each as the ratio with / without per pair and the median over the
// pairs. Goal: p99 within 1.2x and CPU per sample within 1.5x. Writes a Markdown table with the
// machine, the date and the command.
//
//   node bench/explain/run.mjs [--pairs 5] [--duration 10s] [--cpus 0-1] [--out bench/explain/RESULTS.md]
//
// Needs the built package (npm run build) and root, like `rtlat measure --explain`. Takes about
// 2 x pairs x (duration + 2 s) per period.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runMonitored } from '../lib/monitor.js';
import { readMachineCpu } from '../lib/proc.js';
import { fixed, median } from '../lib/report.js';

const root = path.resolve(import.meta.dirname, '../..');
const { formatCpuList, parseCpuList, parseDurationNs, DURATION_RULE, NS_PER_S, NS_PER_US } = await import(path.join(root, 'dist/units.js'));
const { describeEnvironment, readFingerprint } = await import(path.join(root, 'dist/fingerprint/index.js'));
const { usableCpus } = await import(path.join(root, 'dist/engine/system.js'));

const { values: flags } = parseArgs({
  options: {
    pairs: { type: 'string', default: '5' },
    duration: { type: 'string', default: '10s' },
    cpus: { type: 'string' },
    out: { type: 'string', default: path.join(root, 'bench/explain/RESULTS.md') },
  },
});

const PERIODS = ['50us', '1ms'];
const P99_GOAL = 1.2;
const CPU_GOAL = 1.5;
const pairs = Number(flags.pairs);
const durationNs = parseDurationNs('duration', flags.duration, DURATION_RULE);
const cpus = flags.cpus === undefined ? usableCpus().allowed : parseCpuList('cpus', flags.cpus);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'rtlat-bench-explain-'));

/** One run of rtlat measure: its run file, its CPU time, and the machine's busy time meanwhile. */
async function measure(period, explain, index) {
  const json = path.join(scratch, `${index}.json`);
  const args = ['measure', '--period', period, '--duration', flags.duration, '--cpus', formatCpuList(cpus), '-q', '--json', json, ...(explain ? ['--explain'] : [])];
  process.stderr.write(`bench/explain: rtlat ${args.join(' ')}\n`);
  const machineBefore = readMachineCpu();
  const monitored = await runMonitored([process.execPath, path.join(root, 'bin/rtlat'), ...args], { sampleMs: 500, expectedMs: durationNs / 1e6 });
  const machineAfter = readMachineCpu();
  const run = JSON.parse(readFileSync(json, 'utf8'));
  const percentile = (p) => run.all.percentiles.find((value) => value.percentile === p).valueNs;
  const samples = run.all.count;
  return {
    samples,
    p50Ns: percentile(50),
    p99Ns: percentile(99),
    overruns: run.all.overruns,
    cpuPerSampleNs: monitored.cpuNs / samples,
    machinePerSampleNs: (machineAfter.busyNs - machineBefore.busyNs) / samples,
    trace: run.explain?.trace ?? null,
    explained: run.explain?.summary.wakeups ?? null,
    wallNs: monitored.wallNs,
  };
}

const us = (ns) => (ns / NS_PER_US).toFixed(1);

try {
  const loadBefore = os.loadavg()[0];
  const results = [];
  let index = 0;
  for (const period of PERIODS) {
    const rows = [];
    for (let pair = 0; pair < pairs; pair++) {
      // Which arm goes first alternates, so that a load that comes and goes weighs on both alike.
      const first = await measure(period, pair % 2 === 1, index++);
      const second = await measure(period, pair % 2 === 0, index++);
      rows.push(pair % 2 === 0 ? { without: first, with: second } : { without: second, with: first });
    }
    results.push({ period, rows });
  }
  const loadAfter = os.loadavg()[0];
  const environment = readFingerprint();
  const command = `node bench/explain/run.mjs --pairs ${pairs} --duration ${flags.duration}${flags.cpus ? ` --cpus ${flags.cpus}` : ''}`;
  const lines = [
    '# What `rtlat measure --explain` costs',
    '',
    `Made by \`sudo ${command}\` on ${new Date().toISOString().slice(0, 10)}.`,
    '',
    `Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, ` +
      `${describeEnvironment(environment)}. One-minute load average ${loadBefore.toFixed(2)} before and ${loadAfter.toFixed(2)} after: ` +
      'other work on the machine shows in both arms alike, which is why they take turns.',
    '',
    `Each pair is \`rtlat measure --period P --duration ${flags.duration} --cpus ${formatCpuList(cpus)}\` (SCHED_FIFO 99, one thread a CPU, ` +
      'locked memory, /dev/cpu_dma_latency 0) without and with `--explain` (its default: the wake-ups above each thread\'s p99.9), ' +
      'the first of the two alternating from pair to pair. ' +
      'Latencies in us over all threads. "CPU/sample" is the rtlat process\'s user + system time (every thread: the measuring ' +
      'threads, the JS side, the trace reader) per sample; "machine/sample" is every task\'s time on the machine (the root cgroup) ' +
      'per sample, which also holds what the kernel spends writing trace events in other tasks\' time. Ratios are with / without ' +
      'per pair; the summary is their median.',
    '',
  ];
  const summary = [];
  for (const { period, rows } of results) {
    lines.push(`## ${period}`, '', '| pair | arm | samples | p50 | p99 | overruns | CPU/sample (us) | machine/sample (us) | trace events (lost) | explained |', '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    rows.forEach((row, pair) => {
      for (const [arm, run] of [['without', row.without], ['--explain', row.with]]) {
        const events = run.trace ? `${run.trace.perCpu.reduce((sum, cpu) => sum + cpu.events, 0)} (${run.trace.lostEvents})` : '';
        lines.push(`| ${pair + 1} | ${arm} | ${run.samples} | ${us(run.p50Ns)} | ${us(run.p99Ns)} | ${run.overruns} | ${fixed(run.cpuPerSampleNs / 1000)} | ${fixed(run.machinePerSampleNs / 1000)} | ${events} | ${run.explained ?? ''} |`);
      }
    });
    const ratios = (pick) => median(rows.map((row) => pick(row.with) / pick(row.without)));
    const p50 = ratios((run) => run.p50Ns);
    const p99 = ratios((run) => run.p99Ns);
    const cpu = ratios((run) => run.cpuPerSampleNs);
    const machine = ratios((run) => run.machinePerSampleNs);
    const eventRate = median(rows.map((row) => row.with.trace.perCpu.reduce((sum, cpu) => sum + cpu.events, 0) / (row.with.wallNs / NS_PER_S) / row.with.trace.perCpu.length));
    lines.push('', `Median ratios: p50 ${fixed(p50)}x, p99 ${fixed(p99)}x, CPU/sample ${fixed(cpu)}x, machine/sample ${fixed(machine)}x; ` + `about ${Math.round(eventRate)} trace events/s a CPU.`, '');
    summary.push(
      `| ${period} | ${fixed(p50)}x | ${fixed(p99)}x (goal <= ${P99_GOAL}x: ${p99 <= P99_GOAL ? 'met' : 'missed'}) | ${fixed(cpu)}x (goal <= ${CPU_GOAL}x: ${cpu <= CPU_GOAL ? 'met' : 'missed'}) | ${fixed(machine)}x |`,
    );
  }
  lines.splice(lines.indexOf('## 50us'), 0, '## Summary', '', '| period | p50 ratio | p99 ratio | CPU/sample ratio | machine/sample ratio |', '| --- | ---: | ---: | ---: | ---: |', ...summary, '');
  writeFileSync(flags.out, `${lines.join('\n')}\n`);
  process.stderr.write(`bench/explain: wrote ${flags.out}\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
