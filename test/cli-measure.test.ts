// `rtlat measure` as a process: every output parsed back and checked against the run's own numbers.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeHistogram } from '../src/engine/histogram.js';
import type { RunFile } from '../src/run-file/schema.js';
import { RTLAT_BIN, rtlat, rtlatInterrupted, scratchDir } from './helpers/cli.js';
import { fixture } from './helpers/runs.js';
import { schemaProblems } from './helpers/schema.js';
import { resolveOptions } from '../src/engine/options.js';
import { usableCpus } from '../src/engine/system.js';

const isRoot = process.getuid?.() === 0;
const packageVersion = (JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../package.json'), 'utf8')) as { version: string }).version;
// cyclictest's -q line, with the widths of test/fixtures/cyclictest/summary-2threads.txt.
const CYCLICTEST_LINE = /^T:([ \d]{2}) \(([ \d]{5,})\) P:(\d+) I:(\d+) C:([ \d]{7,}) Min:([ \d]{7,}) Act:([ \d]{5,}) Avg:([ \d]{5,}) Max:([ \d]{8,})$/;

function readRun(file: string): RunFile {
  return JSON.parse(readFileSync(file, 'utf8')) as RunFile;
}

describe('rtlat --help and --version', () => {
  it('prints help and the version, exit 0', () => {
    const help = rtlat(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('measure');
    const version = rtlat(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(packageVersion);
    expect(rtlat(['measure', '--help']).stdout).toContain('--breaktrace');
  });
});

describe('bad input: one line on stderr, exit 2, no file written', () => {
  const dir = scratchDir();
  const json = path.join(dir, 'out.json');
  const cases: [string, string[], RegExp][] = [
    ['period 0', ['--period', '0'], /--period: got "0", expected a duration/],
    ['negative period', ['--period', '-5us'], /--period: got "-5us"/],
    ['unknown unit', ['--period', '50xs'], /--period: got "50xs", expected a duration in ns\/us\/ms\/s/],
    ['period above 10 s', ['--period', '11s'], /--period: got "11s", expected .* to 10s/],
    ['priority above 99', ['--priority', '100'], /--priority: got 100, expected 1 to 99 for policy fifo/],
    ['priority with policy other', ['--policy', 'other', '--priority', '5'], /--priority: got 5, expected 0 for policy other/],
    ['unknown policy', ['--policy', 'batch'], /--policy.*batch.*fifo, rr, other, deadline/],
    ['CPU not online', ['--cpus', '0,64'], /--cpus: got "0,64", expected online CPUs/],
    ['malformed CPU list', ['--cpus', '1-'], /--cpus: got "1-", expected a CPU list/],
    ['main CPU not online', ['--main-cpus', '64'], /--main-cpus: got "64", expected online CPUs/],
    ['loops and duration', ['--loops', '10', '--duration', '1s'], /--loops and --duration were both given/],
    ['duration unit', ['--duration', '10us'], /--duration: got "10us"/],
    ['output in a missing folder', ['--json', path.join(dir, 'missing', 'x.json')], /--json: got ".*missing\/x.json", expected a file path in an existing, writable folder/],
    ['output is a folder', ['--hdr-log', dir], /--hdr-log: got ".*", expected a file path/],
    ['unknown option', ['--frobnicate'], /unknown option '--frobnicate' \(see rtlat measure --help\)/],
    ['bad histogram size', ['--histogram', 'lots'], /--histogram: got "lots", expected a whole number/],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const length = args.includes('--duration') || args.includes('--loops') ? [] : ['--loops', '5'];
      const outcome = rtlat(['measure', ...length, ...args, ...(args.includes('--json') ? [] : ['--json', json])]);
      expect(outcome.status).toBe(2);
      const lines = outcome.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^rtlat measure: /);
      expect(lines[0]).toMatch(message);
      expect(outcome.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(json)).toBe(false);
      expect(readdirSync(dir).filter((file) => file.endsWith('.tmp'))).toEqual([]);
    });
  }
});

describe('CPUs outside the affinity mask', () => {
  it('are refused in one line naming the mask, exit 2', () => {
    // taskset narrows rtlat's own affinity mask to CPU 0, as a cpuset or a container would.
    const outcome = spawnSync('taskset', ['-c', '0', process.execPath, RTLAT_BIN, 'measure', '--cpus', '1', '--loops', '5'], { encoding: 'utf8' });
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toBe('rtlat measure: --cpus: got "1", expected CPUs in this process\'s affinity mask (0)\n');
    const main = spawnSync('taskset', ['-c', '0', process.execPath, RTLAT_BIN, 'measure', '--main-cpus', '1', '--loops', '5'], { encoding: 'utf8' });
    expect(main.status).toBe(2);
    expect(main.stderr).toBe('rtlat measure: --main-cpus: got "1", expected CPUs in this process\'s affinity mask (0)\n');
  });
});

describe.skipIf(!isRoot)('measuring (needs root: run the tests as root, as CI does)', () => {
  it('prints the summary table with an all-threads line and honest tails', () => {
    const outcome = rtlat(['measure', '--period', '500us', '--loops', '200', '--cpus', '0-1']);
    expect(outcome.status).toBe(0);
    const rows = outcome.stdout.split('\n').filter((line) => /^(\d+|all)\s/.test(line));
    expect(rows.map((row) => row.split(/\s+/)[0])).toEqual(['0', '1', 'all']);
    expect(rows.map((row) => Number(row.trim().split(/\s+/)[3]))).toEqual([200, 200, 400]);
    // 200 samples cannot give p99.9 or p99.99.
    expect(rows[0]).toContain('(n<10k)');
    expect(rows[0]).toContain('(n<100k)');
  });

  it('writes JSON whose numbers agree with themselves and with the request', () => {
    const dir = scratchDir();
    const file = path.join(dir, 'run.json');
    const outcome = rtlat(['measure', '--period', '1ms', '--loops', '150', '--cpus', '1', '--json', file, '--histogram', '50', '--quiet']);
    expect(outcome.status).toBe(0);
    const run = readRun(file);
    expect(schemaProblems(run)).toBe('');
    expect(run.schema).toBe('rtlat.run');
    expect(run.schemaVersion).toBe(1);
    expect(run.rtlatVersion).toBe(packageVersion);
    expect(run.commandLine).toContain('--loops 150');
    expect(run.config).toMatchObject({ periodNs: 1_000_000, policy: 'fifo', priority: 99, loops: 150, cpus: [1] });
    const [thread] = run.threads;
    expect(thread!.applied).toEqual({ policy: 'fifo', priority: 99, cpus: [1] });
    expect(thread!.count).toBe(150);
    expect(thread!.pageFaults).toBe(0);
    expect(run.environment!.virtualization.role).toBe('vm');
    expect(Object.keys(run.during!.perCpu)).toEqual(['1']);
    const histogram = decodeHistogram(thread!.histogram!);
    expect(histogram.totalCount).toBe(150);
    expect(histogram.getValueAtPercentile(50)).toBe(thread!.percentiles.find((p) => p.percentile === 50)!.valueNs);
    const microseconds = thread!.microsecondHistogram!;
    expect(microseconds.buckets.reduce((a, b) => a + b, 0) + microseconds.overflows).toBe(150);
    expect(new Date(run.endTime).getTime()).toBeGreaterThanOrEqual(new Date(run.startTime).getTime());
    // The -h histogram on stdout carries the same totals (its rows, in either cyclictest dialect).
    const total = [...outcome.stdout.matchAll(/^\d{6} (\d+)$/gm)].reduce((sum, row) => sum + Number(row[1]), 0);
    const overflows = Number(/^# Histogram Overflows: (\d+)/m.exec(outcome.stdout)![1]);
    expect(total + overflows).toBe(150);
  });

  it('prints cyclictest -q lines that parse like the reference ones', () => {
    const outcome = rtlat(['measure', '--period', '200us', '--loops', '300', '--cpus', '0,1', '--format', 'cyclictest']);
    expect(outcome.status).toBe(0);
    const lines = outcome.stdout.trimEnd().split('\n').filter((line) => line.startsWith('T:'));
    expect(lines).toHaveLength(2);
    const reference = fixture('summary-2threads.txt')
      .split('\n')
      .filter((line) => line.startsWith('T:'));
    for (const line of [...lines, ...reference]) expect(line).toMatch(CYCLICTEST_LINE);
    lines.forEach((line, index) => {
      const [, thread, , priority, interval, count, min, , , max] = CYCLICTEST_LINE.exec(line)!;
      expect(Number(thread)).toBe(index);
      expect(Number(priority)).toBe(99);
      expect(Number(interval)).toBe(200);
      expect(Number(count)).toBe(300);
      expect(Number(min)).toBeLessThanOrEqual(Number(max));
    });
    expect(outcome.stdout.split('\n')[0]).toBe('# /dev/cpu_dma_latency set to 0us');
  });

  it('lists spikes on stderr and in the JSON', () => {
    const dir = scratchDir();
    const file = path.join(dir, 'spikes.json');
    const outcome = rtlat(['measure', '--period', '1ms', '--loops', '40', '--cpus', '0', '--spike', '0', '--json', file, '-q']);
    expect(outcome.status).toBe(0);
    const lines = outcome.stderr.split('\n').filter((line) => line.startsWith('rtlat: spike T:0 CPU:0 cycle '));
    const run = readRun(file);
    expect(run.spikes.length).toBe(lines.length);
    expect(run.spikes.length).toBe(40);
    expect(run.spikes.every((spike) => spike.latencyNs > 0 && spike.thread === 0)).toBe(true);
  });

  it('stops at the first sample above --breaktrace, says where, and exits 4', () => {
    const tracingOn = ['/sys/kernel/tracing/tracing_on', '/sys/kernel/debug/tracing/tracing_on'].find((file) => existsSync(file));
    const before = tracingOn ? readFileSync(tracingOn, 'utf8') : null;
    const dir = scratchDir();
    const file = path.join(dir, 'break.json');
    try {
      const outcome = rtlat(['measure', '--period', '1ms', '--loops', '1000', '--cpus', '0', '--breaktrace', '1ns', '--json', file, '-q']);
      expect(outcome.status).toBe(4);
      expect(outcome.stderr).toMatch(/^rtlat: breaktrace: thread 0 on CPU 0 woke [\d.]+us late/m);
      const run = readRun(file);
      expect(run.stoppedBy).toBe('breaktrace');
      expect(run.breaktrace).toMatchObject({ thread: 0, cpu: 0 });
      expect(run.threads[0]!.count).toBe(1);
      if (tracingOn) {
        expect(run.breaktrace!.tracingStopped).toBe(true);
        expect(readFileSync(tracingOn, 'utf8').trim()).toBe('0');
      }
    } finally {
      if (tracingOn && before !== null) writeFileSync(tracingOn, before);
    }
  });

  it('writes an HTML report of the run with --report', () => {
    const dir = scratchDir();
    const report = path.join(dir, 'run.html');
    const outcome = rtlat(['measure', '--period', '1ms', '--loops', '100', '--cpus', '0', '--report', report, '-q']);
    expect(outcome.status).toBe(0);
    const html = readFileSync(report, 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/i);
    expect(html).toContain('<svg');
    expect(readdirSync(dir)).toEqual(['run.html']);
  });

  it('pins every other thread of the process to --main-cpus once measuring, and records it', async () => {
    const dir = scratchDir();
    const json = path.join(dir, 'run.json');
    const child = spawn(process.execPath, [RTLAT_BIN, 'measure', '--cpus', '1', '--main-cpus', '0', '--duration', '60s', '--json', json, '--quiet']);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const pid = child.pid!;
    const affinities = (): Map<number, string> => {
      const seen = new Map<number, string>();
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1];
        if (list !== undefined) seen.set(Number(tid), list);
      }
      return seen;
    };
    // Until the measuring thread runs on CPU 1 and the JS thread has been moved to CPU 0, however slowly Node starts.
    let seen = new Map<number, string>();
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 20))) {
      seen = affinities();
      if ([...seen.values()].includes('1') && seen.get(pid) === '0') break;
    }
    // rtlat takes over SIGINT just after the probe has started (as rtlatInterrupted allows for).
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Read again once rtlat has surely moved them all: the break above may come between two threads' moves.
    seen = affinities();
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const run = readRun(json);
    expect(run.config.mainCpus).toEqual([0]);
    const measuringTid = run.threads[0]!.tid!;
    expect(seen.get(measuringTid)).toBe('1');
    const others = [...seen].filter(([tid]) => tid !== measuringTid);
    // Node's JS thread, libuv's and V8's: several, every one of them moved.
    expect(others.length).toBeGreaterThan(2);
    expect(others.filter(([, list]) => list !== '0')).toEqual([]);
  });

  it('on SIGTERM stops like cyclictest: the summary and exit 0', async () => {
    const outcome = await rtlatInterrupted(['measure', '--period', '1ms', '--cpus', '0', '--format', 'cyclictest'], 'SIGTERM', 800);
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toMatch(/^T: 0 \(\s*\d+\) P:99 I:1000 C:\s+\d+ /m);
  });

  it('on SIGINT mid-run writes complete, valid files and exits 0', async () => {
    const dir = scratchDir();
    const json = path.join(dir, 'run.json');
    const log = path.join(dir, 'run.hlog');
    const outcome = await rtlatInterrupted(
      ['measure', '--period', '1ms', '--duration', '60s', '--cpus', '0-1', '--json', json, '--hdr-log', log, '--hdr-interval', '100ms'],
      'SIGINT',
      1_500,
    );
    expect(outcome.status).toBe(0);
    const run = readRun(json);
    expect(run.stoppedBy).toBe('signal');
    expect(run.threads.every((thread) => thread.count > 0)).toBe(true);
    const logText = readFileSync(log, 'utf8');
    expect(logText).toMatch(/^#\[StartTime: /m);
    expect(logText).toMatch(/^Tag=cpu0,/m);
    expect(logText).toMatch(/^Tag=cpu1,/m);
    expect(readdirSync(dir).sort()).toEqual(['run.hlog', 'run.json']);
  });
});

describe.skipIf(!isRoot)('--hdr-log intervals (needs root: run the tests as root, as CI does)', () => {
  it('cuts a 2 s run at 1 ms into exactly two 1 s intervals, by the samples\' own due times', () => {
    const dir = scratchDir();
    const log = path.join(dir, 'run.hlog');
    const json = path.join(dir, 'run.json');
    const outcome = rtlat(['measure', '--period', '1ms', '--duration', '2s', '--cpus', '1', '--hdr-log', log, '--json', json, '--quiet']);
    expect(outcome.status).toBe(0);
    const lines = readFileSync(log, 'utf8').split('\n').filter((line) => line.startsWith('Tag=cpu1,'));
    const intervals = lines.map((line) => {
      const [, startSec, lengthSec, , histogram] = line.split(',');
      return { startSec: Number(startSec), lengthSec, count: decodeHistogram(histogram!).totalCount };
    });
    expect(intervals.map(({ lengthSec }) => lengthSec)).toEqual(['1.000', '1.000']);
    expect(intervals[1]!.startSec - intervals[0]!.startSec).toBeCloseTo(1, 3);
    // 1,000 periods each: a wake-up late enough to skip one leaves 999 samples in its interval.
    const [thread] = readRun(json).threads;
    expect(intervals.map(({ count }) => count).reduce((a, b) => a + b)).toBe(thread!.count);
    for (const { count } of intervals) expect(count).toBeLessThanOrEqual(1_000);
  });
});

describe.skipIf(!isRoot)('--policy deadline (needs root: run the tests as root, as CI does)', () => {
  it('measures at a period whose tenth is not a whole number of ns, with the default runtime rounded', () => {
    const dir = scratchDir();
    const json = path.join(dir, 'run.json');
    const outcome = rtlat(['measure', '--policy', 'deadline', '--period', '250005ns', '--loops', '20', '--json', json, '--quiet']);
    expect(outcome.stderr).toBe('');
    expect(outcome.status).toBe(0);
    const [thread] = readRun(json).threads;
    expect(thread!.applied!.policy).toBe('deadline');
    expect(thread!.count).toBe(20);
    expect(resolveOptions({ policy: 'deadline', periodNs: 250_005 }).deadlineRuntimeNs).toBe(25_001);
  });

  it('reports a reservation that admission control refuses (EBUSY) as a usage error: one line with the bandwidth asked for, exit 2', () => {
    const dir = scratchDir();
    const json = path.join(dir, 'run.json');
    // One thread more than there are CPUs, each reserving all of a CPU.
    const threads = usableCpus().online.length + 1;
    const outcome = rtlat(['measure', '--policy', 'deadline', '--period', '1ms', '--deadline-runtime', '1ms', '--threads', String(threads), '--loops', '5', '--json', json]);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(outcome.stderr).toMatch(/^rtlat measure: --deadline-runtime: got "1ms", expected a reservation the kernel admits, at most [\d.]+% of one CPU in all \([\d.]+% of each of \d+ CPUs: kernel.sched_rt_runtime_us \/ kernel.sched_rt_period_us\)/);
    expect(outcome.stderr).toContain(`this run asked for ${threads * 100}% (${threads} thread(s) of 1ms every 1ms) and SCHED_DEADLINE admission control refused it (EBUSY)`);
    expect(outcome.stderr).not.toContain('not permitted');
    expect(existsSync(json)).toBe(false);
  });
});

describe.skipIf(!isRoot)('the live status (needs root)', () => {
  // `script` gives rtlat a terminal, as a person running it would have.
  const inTerminal = (args: string) =>
    spawnSync('script', ['-qec', `${process.execPath} ${RTLAT_BIN} ${args}`, '/dev/null'], { encoding: 'utf8', timeout: 30_000 });

  it('refreshes one line per thread on a terminal, and nothing of it with --quiet or without a terminal', () => {
    const live = inTerminal('measure --period 1ms --duration 1200ms --cpus 0,1');
    expect(live.status).toBe(0);
    expect(live.stdout).toMatch(/T: 0 CPU:0 I:1000 C:\s+\d+ Min:/);
    expect(live.stdout).toMatch(/T: 1 CPU:1 I:1000 C:\s+\d+ Min:/);
    expect(live.stdout).toMatch(/elapsed [\d.]+m?s \/ 1.2s \([\d.]+m?s left\)/);
    const quiet = inTerminal('measure --period 1ms --duration 600ms --cpus 0 --quiet');
    expect(quiet.stdout).not.toContain('elapsed');
    const piped = rtlat(['measure', '--period', '1ms', '--duration', '600ms', '--cpus', '0']);
    expect(piped.stdout).not.toContain('elapsed');
  });
});
