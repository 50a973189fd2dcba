#!/usr/bin/env node
// This machine's wake-up latency without and with each load generator, as a Markdown table: one
// `rtlat sweep --with-and-without-load` per load (one period, measured without, then with it).
//
//   node bench/load/run.mjs [--period 200us] [--duration 5s] [--out bench/load/RESULTS.md]
//
// Needs the built package (npm run build) and root, like `rtlat measure`; stress-ng is used when
// installed. Takes about (2 x duration + 1 s) per load.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(import.meta.dirname, '../..');
const { formatDuration, parseDurationNs, PERIOD_RULE, NS_PER_US } = await import(path.join(root, 'dist/units.js'));
const { describeEnvironment } = await import(path.join(root, 'dist/fingerprint/index.js'));
const { formatLoadWork, NATIVE_LOAD_KINDS } = await import(path.join(root, 'dist/load/index.js'));

const { values: flags } = parseArgs({
  options: {
    period: { type: 'string', default: '200us' },
    duration: { type: 'string', default: '5s' },
    out: { type: 'string', default: path.join(root, 'bench/load/RESULTS.md') },
  },
});

const STRESS_NG = 'stress-ng:--switch 1 --timer 1 --hdd 1 --hdd-bytes 4m';
const stressNgInstalled = spawnSync('stress-ng', ['--version'], { stdio: 'ignore' }).status === 0;
const loads = [...NATIVE_LOAD_KINDS, ...(stressNgInstalled ? [STRESS_NG] : [])];

const periodLabel = formatDuration(parseDurationNs('period', flags.period, PERIOD_RULE));
const scratch = mkdtempSync(path.join(os.tmpdir(), 'rtlat-bench-load-'));

function sweep(load, index) {
  const base = path.join(scratch, `${index}.json`);
  const args = ['sweep', '--periods', flags.period, '--duration', flags.duration, '--load', load, '--with-and-without-load', '--json', base, '-q'];
  process.stderr.write(`bench/load: rtlat ${args.slice(0, -3).join(' ')}\n`);
  const outcome = spawnSync(process.execPath, [path.join(root, 'bin/rtlat'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (outcome.status !== 0) throw new Error(`rtlat sweep for ${load} exited ${outcome.status}`);
  const read = (condition) => JSON.parse(readFileSync(path.join(scratch, `${index}-${periodLabel}-${condition}.json`), 'utf8'));
  return { load, without: read('noload'), with: read('load') };
}

function us(ns) {
  return (ns / NS_PER_US).toFixed(1);
}

function percentile(run, p) {
  const value = run.all.percentiles.find((entry) => entry.percentile === p);
  return value?.reliable ? us(value.valueNs) : '-';
}

function row(load, condition, run) {
  return `| ${load} | ${condition} | ${run.all.count} | ${us(run.all.minNs)} | ${percentile(run, 50)} | ${percentile(run, 99)} | ${percentile(run, 99.9)} | ${us(run.all.maxNs)} | ${run.all.overruns} | ${condition === 'with' ? formatLoadWork(run.load) : ''} |`;
}

try {
  // Other work on the machine shows in the "without" rows: say how busy it was.
  const loadAverageBefore = os.loadavg()[0];
  const results = loads.map(sweep);
  const first = results[0].without;
  const cpus = [...new Set(first.threads.map((thread) => thread.cpu))];
  const command = `node bench/load/run.mjs --period ${flags.period} --duration ${flags.duration}`;
  const lines = [
    '# Wake-up latency with and without each load',
    '',
    `Made by \`${command}\` on ${new Date().toISOString().slice(0, 10)}.`,
    '',
    `Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
      `Linux ${os.release()}, ${first.environment ? describeEnvironment(first.environment) : 'environment unknown'}. ` +
      `One-minute load average ${loadAverageBefore.toFixed(2)} before the bench and ${os.loadavg()[0].toFixed(2)} after it ` +
      '(other work on the machine shows in every row).',
    '',
    `Each pair of rows is one \`rtlat sweep --periods ${flags.period} --duration ${flags.duration} --load LOAD --with-and-without-load\`: ` +
      `${first.threads.length} SCHED_${first.config.policy.toUpperCase()} ${first.config.priority} measuring threads (CPUs ${cpus.join(', ')}), ` +
      `period ${periodLabel}, ${flags.duration} without the load, then ${flags.duration} with it; the generators run as SCHED_OTHER ` +
      'on the same CPUs. Latencies in us over all threads; "-" where there are too few samples for the percentile; ' +
      'overruns are wake-ups skipped because the previous one came later than a period.',
    '',
    '| load | run | samples | min | p50 | p99 | p99.9 | max | overruns | load work |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...results.flatMap((result) => [row(result.load, 'without', result.without), row(result.load, 'with', result.with)]),
    '',
  ];
  if (!stressNgInstalled) lines.push('stress-ng was not installed: no stress-ng row.', '');
  writeFileSync(flags.out, lines.join('\n'));
  process.stderr.write(`bench/load: wrote ${flags.out}\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
