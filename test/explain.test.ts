// rtlat measure --explain end to end, with known causes injected: a real-time thread's bursts above
// the measuring thread, and loopback traffic whose softirqs run on the measured CPU. No latency is
// asserted: what the explanation names, that every wake-up's parts add up to it, and that tracing
// leaves nothing behind (its instance, the user's top-level settings) however the run ends.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExplainedWakeup, RunExplain, RunFile } from '../src/run-file/schema.js';
import { usableCpus } from '../src/engine/system.js';
import { findTracefs, TRACEFS_MOUNT } from '../src/trace/tracefs.js';
import { RTLAT_BIN, rtlat, scratchDir } from './helpers/cli.js';
import { loopbackTraffic, realTimeBursts, type Injected } from './helpers/interference.js';
import { nodeAsNobody, packageForNobody } from './helpers/package-copy.js';
import { schemaProblems } from './helpers/schema.js';

const isRoot = process.getuid?.() === 0;
// The last CPU: away from CPU 0's housekeeping, and the same on every 2-CPU machine.
const CPU = Math.max(...usableCpus().allowed);
/**
 * Below 99, so that an injected thread can run above the measuring one; above what other real-time work
 * on a shared machine (a QEMU at SCHED_FIFO, say) is likely to run at, so that only the injected one does.
 */
const PRIORITY = 97;

function readRun(file: string): RunFile {
  return JSON.parse(readFileSync(file, 'utf8')) as RunFile;
}

/** The invariant of every explained wake-up: its segments cover [due, woke] exactly, in order, and its parts are their sums. */
function expectPartition(wakeup: ExplainedWakeup): void {
  let offsetNs = 0;
  for (const segment of wakeup.segments) {
    expect(segment.offsetNs).toBe(offsetNs);
    expect(segment.ns).toBeGreaterThan(0);
    offsetNs += segment.ns;
  }
  expect(offsetNs).toBe(wakeup.latencyNs);
  const parts = Object.values(wakeup.parts).reduce((sum, ns) => sum + ns, 0);
  expect(parts).toBe(wakeup.latencyNs);
}

async function measuredWith(injected: Injected, args: string[]): Promise<RunExplain> {
  const dir = scratchDir();
  const file = path.join(dir, 'run.json');
  await injected.ready;
  try {
    const outcome = rtlat(['measure', '--cpus', `${CPU}`, '--priority', `${PRIORITY}`, '-q', '--json', file, ...args]);
    expect(outcome.stderr).toBe('');
    expect(outcome.status).toBe(0);
    const run = readRun(file);
    expect(schemaProblems(run)).toBe('');
    expect(outcome.stdout).toContain(`explain: ${run.explain!.summary.wakeups} wake-up`);
    expect(outcome.stdout).toContain(run.explain!.summary.headline);
    return run.explain!;
  } finally {
    await injected.stop();
  }
}

const instancesDir = () => path.join(findTracefs() ?? TRACEFS_MOUNT, 'instances');
const instanceOf = (pid: number) => path.join(instancesDir(), `rtlat-${pid}`);

/** What a user may have set at the top level of tracefs: rtlat must leave all of it as it was. */
function topLevelSettings(): Record<string, string> {
  const root = findTracefs()!;
  const files = ['tracing_on', 'current_tracer', 'trace_clock', 'buffer_size_kb', 'tracing_cpumask', 'set_event', 'trace_options', 'set_event_pid'];
  return Object.fromEntries(files.filter((file) => existsSync(path.join(root, file))).map((file) => [file, readFileSync(path.join(root, file), 'utf8')]));
}

/** Starts rtlat measure --explain; resolves with the child once its instance exists (tracing is on). */
function startTracing(args: string[]) {
  const child = spawn(process.execPath, [RTLAT_BIN, 'measure', '--cpus', `${CPU}`, '--priority', `${PRIORITY}`, '--explain', ...args]);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  const tracing = new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (existsSync(instanceOf(child.pid!))) {
        clearInterval(poll);
        // Past the instance's set-up: measuring has begun once its memory is locked.
        setTimeout(resolve, 500);
      }
    }, 20);
    void exited.then(() => {
      clearInterval(poll);
      reject(new Error(`rtlat ended before tracing: ${stderr}`));
    });
  });
  return { child, tracing, exited };
}

describe('--explain: bad input', () => {
  it('is refused with --clock realtime in one line, exit 2', () => {
    const outcome = rtlat(['measure', '--loops', '5', '--clock', 'realtime', '--explain']);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toBe('rtlat measure: --explain needs --clock monotonic (the kernel traces on CLOCK_MONOTONIC); drop --clock realtime\n');
  });

  it('refuses a threshold that is not a latency, and --explain-max without --explain', () => {
    const threshold = rtlat(['measure', '--loops', '5', '--explain', 'lots']);
    expect(threshold.status).toBe(2);
    expect(threshold.stderr).toMatch(/^rtlat measure: --explain: got "lots", expected a duration in ns\/us\/ms\/s .*\n$/);
    const max = rtlat(['measure', '--loops', '5', '--explain-max', '10']);
    expect(max.status).toBe(2);
    expect(max.stderr).toBe('rtlat measure: --explain-max needs --explain\n');
    const zero = rtlat(['measure', '--loops', '5', '--explain', '--explain-max', '0']);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toBe('rtlat measure: --explain-max: got "0", expected a whole number from 1 to 1000000\n');
  });
});

describe.skipIf(!isRoot)('--explain with injected causes (needs root for tracefs and SCHED_FIFO: run the tests as root, as CI does)', () => {
  it('names a real-time thread bursting above the measuring one: Thread interference by its comm dominates', async () => {
    // 300us every 20ms at SCHED_FIFO 98 on the measured CPU, for the test's length only.
    const bursts = realTimeBursts({ cpu: CPU, priority: PRIORITY + 1, burstUs: 300, everyMs: 20, seconds: 15 });
    const explain = await measuredWith(bursts, ['--period', '1ms', '--duration', '4s', '--explain', '100']);
    const burst = `${bursts.comm} (pid ${bursts.pid})`;
    expect(explain.summary.wakeups).toBeGreaterThan(5);
    for (const wakeup of explain.wakeups) expectPartition(wakeup);
    expect(explain.summary.headline).toContain(`thread interference ${burst}`);
    // It dominates the thread interference ...
    const interference = explain.summary.culprits.filter((culprit) => culprit.part === 'threadInterference');
    expect(interference[0]!.culprit).toBe(burst);
    expect(2 * interference[0]!.ns).toBeGreaterThan(interference.reduce((sum, culprit) => sum + culprit.ns, 0));
    // ... and of the wake-ups it delayed, it is the biggest named cause of most. (Other causes may delay other
    // wake-ups: on a shared machine, other people's guests and measurements do.)
    const delayed = explain.wakeups.filter((wakeup) => wakeup.segments.some((segment) => segment.culprit === burst));
    const ledByBurst = delayed.filter((wakeup) => {
      const named = new Map<string, number>();
      for (const segment of wakeup.segments) if (segment.culprit && segment.part !== 'timerIrq') named.set(segment.culprit, (named.get(segment.culprit) ?? 0) + segment.ns);
      return [...named].sort((a, b) => b[1] - a[1])[0]![0] === burst;
    });
    expect(delayed.length).toBeGreaterThan(5);
    expect(2 * ledByBurst.length).toBeGreaterThan(delayed.length);
    expect(explain.tasks).toContainEqual({ pid: bursts.pid, comm: bursts.comm, policy: 'fifo', priority: PRIORITY + 1 });
    expect(explain.trace.perCpu.map((cpu) => cpu.cpu)).toEqual([CPU]);
  }, 60_000);

  it('names NET_RX when loopback traffic is handled on the measured CPU', async () => {
    // The same explanation without the traffic and with it: NET_RX appears with it.
    const quiet = await measuredWith({ pid: 0, comm: '', ran: [], ready: Promise.resolve(), stop: async () => {} }, ['--period', '1ms', '--duration', '3s', '--explain', '1']);
    const traffic = loopbackTraffic({ cpu: CPU, seconds: 15 });
    const busy = await measuredWith(traffic, ['--period', '1ms', '--duration', '3s', '--explain', '1']);
    const netRx = (explain: RunExplain) =>
      explain.wakeups.flatMap((wakeup) => wakeup.segments).filter((segment) => segment.part === 'softirqInterference' && segment.culprit === 'NET_RX').reduce((sum, segment) => sum + segment.ns, 0);
    for (const wakeup of busy.wakeups) expectPartition(wakeup);
    expect(busy.summary.culprits.some((culprit) => culprit.part === 'softirqInterference' && culprit.culprit === 'NET_RX')).toBe(true);
    expect(busy.summary.parts.find((part) => part.part === 'softirqInterference')!.ns).toBeGreaterThan(0);
    expect(netRx(busy)).toBeGreaterThan(netRx(quiet));
  }, 90_000);
});

describe.skipIf(!isRoot)('--explain tracing leaves nothing behind (needs root for tracefs)', () => {
  it('removes its instance at the end and leaves the top-level settings as they were', () => {
    const before = topLevelSettings();
    const dir = scratchDir();
    const outcome = rtlat(['measure', '--cpus', `${CPU}`, '--priority', `${PRIORITY}`, '--loops', '300', '-q', '--explain', '--json', path.join(dir, 'run.json')]);
    expect(outcome.status).toBe(0);
    const run = readRun(path.join(dir, 'run.json'));
    expect(run.explain!.trace).toMatchObject({ clock: 'mono', reader: 'trace_pipe_raw' });
    expect(existsSync(path.join(instancesDir(), run.explain!.trace.instance))).toBe(false);
    expect(topLevelSettings()).toEqual(before);
  });

  it('removes it on SIGINT, with the results written', async () => {
    const dir = scratchDir();
    const file = path.join(dir, 'run.json');
    const run = startTracing(['--duration', '60s', '--json', file]);
    await run.tracing;
    run.child.kill('SIGINT');
    const { code, stderr } = await run.exited;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(readRun(file).stoppedBy).toBe('signal');
    expect(readRun(file).explain).toBeDefined();
    expect(existsSync(instanceOf(run.child.pid!))).toBe(false);
  }, 60_000);

  it('leaves one when SIGKILLed, which the next run removes', async () => {
    const killed = startTracing(['--duration', '60s']);
    await killed.tracing;
    killed.child.kill('SIGKILL');
    expect((await killed.exited).signal).toBe('SIGKILL');
    const stale = instanceOf(killed.child.pid!);
    expect(existsSync(stale)).toBe(true);
    const next = rtlat(['measure', '--cpus', `${CPU}`, '--priority', `${PRIORITY}`, '--loops', '100', '--explain']);
    expect(next.status).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(readdirSync(instancesDir()).filter((name) => name === path.basename(stale))).toEqual([]);
  }, 60_000);

  it('says what to grant when tracefs is root\'s alone, in one line, exit 3', () => {
    // nobody runs a world-readable copy of the package: a clone under a 0700 folder is not readable to it.
    const nobody = nodeAsNobody([packageForNobody().bin, 'measure', '--loops', '10', '--allow-degraded', '--no-mlock', '--no-dma-latency', '--explain']);
    const refused = spawnSync(nobody.command, nobody.args, { ...nobody.options, encoding: 'utf8' });
    expect(refused.status).toBe(3);
    expect(refused.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^rtlat: not permitted: reading \/sys\/kernel\/tracing \(EACCES\)\. --explain traces the kernel: run as root/);
  });

  it('with --format cyclictest, keeps stdout to cyclictest\'s lines and explains on stderr', () => {
    const outcome = rtlat(['measure', '--cpus', `${CPU}`, '--priority', `${PRIORITY}`, '--loops', '300', '--format', 'cyclictest', '--explain', '0']);
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toMatch(/^T: 0 \(/m);
    expect(outcome.stdout).not.toContain('explain');
    expect(outcome.stderr).toMatch(/^explain: \d+ wake-ups above 0\.0us; trace of CPU \d+: \d+ events, \d+ lost\n/);
  });

  it('keeps --breaktrace working beside it: the break stops the run, and is explained', () => {
    const root = findTracefs()!;
    const tracingOn = readFileSync(path.join(root, 'tracing_on'), 'utf8');
    const dir = scratchDir();
    const file = path.join(dir, 'run.json');
    try {
      const outcome = rtlat(['measure', '--cpus', `${CPU}`, '--priority', `${PRIORITY}`, '--loops', '1000', '-q', '--explain', '0', '--breaktrace', '1ns', '--json', file]);
      expect(outcome.status).toBe(4);
      const run = readRun(file);
      expect(run.stoppedBy).toBe('breaktrace');
      expect(run.breaktrace!.tracingStopped).toBe(true);
      // The one wake-up measured, the break, with its parts.
      expect(run.explain!.wakeups).toHaveLength(1);
      expect(run.explain!.wakeups[0]!.latencyNs).toBe(run.breaktrace!.latencyNs);
      expectPartition(run.explain!.wakeups[0]!);
      expect(existsSync(path.join(instancesDir(), run.explain!.trace.instance))).toBe(false);
    } finally {
      // --breaktrace stops the top-level trace by design: put it back as it was.
      writeFileSync(path.join(root, 'tracing_on'), tracingOn);
    }
  });
});
