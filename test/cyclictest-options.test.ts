// cyclictest's command line read as cyclictest reads it (its defaults and quirks), and what rtlat runs for
// it: the probe's options, and a refusal in one line for what rtlat cannot honour.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { atoi, CyclictestExit, parseCpuMask, parseCyclictestArgs, parseTimeString, type CyclictestSettings, type MachineView } from '../src/cyclictest/options.js';
import { planCyclictestRun, type PlanMachine } from '../src/cli/cyclictest/plan.js';
import { RTLAT_BIN } from './helpers/cli.js';

const machine: PlanMachine = { configuredCpus: 4, allowedCpus: [0, 1, 2, 3], numa: true, nodeOfCpu: (cpu) => (cpu < 2 ? 0 : 1) };

function settings(argv: string[], view: MachineView = machine, version = '2.10'): CyclictestSettings {
  const parsed = parseCyclictestArgs(argv, view, { RTLAT_CYCLICTEST_VERSION: version });
  if (parsed.kind !== 'run') throw new Error('expected a run');
  return parsed.settings;
}

function warnings(argv: string[]): string[] {
  const parsed = parseCyclictestArgs(argv, machine, {});
  return parsed.kind === 'run' ? parsed.warnings : [];
}

function exitOf(argv: string[]): CyclictestExit {
  try {
    const parsed = parseCyclictestArgs(argv, machine, {});
    if (parsed.kind === 'run') planCyclictestRun(parsed.settings, machine);
  } catch (error) {
    if (error instanceof CyclictestExit) return error;
    throw error;
  }
  throw new Error(`${JSON.stringify(argv)} was accepted`);
}

describe('C helpers, as rt-tests uses them', () => {
  it('atoi: leading blanks, a sign, digits; anything else ends it; int overflow wraps', () => {
    expect(atoi(' 3500')).toBe(3500);
    expect(atoi('-5x')).toBe(-5);
    expect(atoi('abc')).toBe(0);
    expect(atoi('')).toBe(0);
    expect(atoi('4294967297')).toBe(1);
  });

  it('parse_time_string: seconds, or m, h, d (any case); other suffixes are seconds', () => {
    expect(parseTimeString('1m')).toBe(60);
    expect(parseTimeString('2H')).toBe(7200);
    expect(parseTimeString('1d')).toBe(86_400);
    expect(parseTimeString('10s')).toBe(10);
    expect(parseTimeString('1.5m')).toBe(1);
  });

  it('CPU lists as libnuma reads them: ranges, all, !inverted, +relative', () => {
    expect(parseCpuMask('0-1,3', machine)).toEqual([0, 1, 3]);
    expect(parseCpuMask('all', machine)).toEqual([0, 1, 2, 3]);
    expect(parseCpuMask('!1', machine)).toEqual([0, 2, 3]);
    expect(parseCpuMask('+1', { ...machine, allowedCpus: [2, 3] })).toEqual([3]);
    expect(parseCpuMask('7', machine)).toBeNull();
    expect(parseCpuMask('x', machine)).toBeNull();
  });
});

describe("cyclictest's defaults and quirks", () => {
  it('1000us interval, 500us more per thread, one thread, SCHED_OTHER at 0, unpinned from 2.5 on', () => {
    const s = settings(['-t', '3']);
    expect(s).toMatchObject({ intervalUs: 1000, distanceUs: 500, threads: 3, priority: 0, policy: 'other', affinity: { kind: 'unpinned' } });
    const plan = planCyclictestRun(s, machine);
    expect(plan.threads.map((thread) => thread.intervalUs)).toEqual([1000, 1500, 2000]);
    expect(plan.probe).toMatchObject({ periodNs: 1_000_000, distanceNs: 500_000, policy: 'other', priority: 0, pin: false, lockMemory: false, dmaLatency: true });
    expect(plan.policyLabel).toBe('other/other');
    // cyclictest's JSON: cpu -1 when unpinned, yet the node of the CPU it would have used.
    expect(plan.threads.map((thread) => [thread.cpu, thread.node])).toEqual([[-1, 0], [-1, 0], [-1, 1]]);
  });

  it('2.4 pins threads round-robin even without -a', () => {
    expect(settings(['-t', '2'], machine, '2.4').affinity).toEqual({ kind: 'all' });
  });

  it('no distance when a histogram is kept, and a warning when one was given', () => {
    expect(settings(['-t', '2', '-h', '50']).distanceUs).toBe(0);
    expect(warnings(['-t', '2', '-d', '100', '-h', '50'])).toEqual(['WARN: distance is ignored and set to 0, if histogram enabled']);
  });

  it('-p alone means SCHED_FIFO; a real-time policy without -p gets threads + 1', () => {
    expect(settings(['-p', '80'])).toMatchObject({ policy: 'fifo', priority: 80 });
    expect(settings(['--policy=rr', '-t', '3'])).toMatchObject({ policy: 'rr', priority: 4 });
    expect(warnings(['--policy=fifo', '-t', '3'])).toEqual(['defaulting realtime priority to 4']);
    expect(warnings(['-p', '5', '--policy=batch'])).toEqual(["policy and priority don't match: setting policy to SCHED_FIFO"]);
    expect(planCyclictestRun(settings(['--policy=idle']), machine).policyLabel).toBe('idle/other');
  });

  it('-S is -a -t with one thread per CPU; -t after it is ignored, -a before it is fatal', () => {
    expect(settings(['-S'])).toMatchObject({ smp: true, threads: 4, affinity: { kind: 'all' } });
    expect(warnings(['-S', '-t', '1'])).toEqual(['WARN: -t ignored due to smp mode']);
    expect(warnings(['-S', '-a', '1'])).toEqual(['WARN: -a ignored due to smp mode']);
    expect(exitOf(['-a', '0', '-S'])).toMatchObject({ message: 'FATAL: numa and smp options are mutually exclusive', exitCode: 1 });
    // Without NUMA, libnuma never initialised: no conflict.
    expect(parseCyclictestArgs(['-a', '0', '-S'], { ...machine, numa: false }, {}).kind).toBe('run');
    // -S has no NUMA node in cyclictest's JSON.
    expect(planCyclictestRun(settings(['-S']), machine).threads.every((thread) => thread.node === -1)).toBe(true);
  });

  it('-t and -a take a value only glued to them, or when the next element looks like one', () => {
    expect(settings(['-t', '2', '-a', '1-2'])).toMatchObject({ threads: 2, affinity: { kind: 'list', cpus: [1, 2] } });
    expect(settings(['-t2', '-a1'])).toMatchObject({ threads: 2, affinity: { kind: 'list', cpus: [1] } });
    expect(settings(['-t', '-a', '-q'])).toMatchObject({ threads: 4, affinity: { kind: 'all' }, quiet: true });
    expect(settings(['-a', '2-3', '-t'])).toMatchObject({ threads: 2 });
    // "-t 0" peeks at "0", which atoi reads as no number: one thread per CPU.
    expect(settings(['-t', '0']).threads).toBe(4);
    expect(exitOf(['-t0']).exitCode).toBe(1);
  });

  it('-l and -D together, whichever ends first; -l stops every thread once the first has its loops', () => {
    const plan = planCyclictestRun(settings(['-l', '100', '-D', '1m', '-t', '2']), machine);
    expect(plan.probe).toMatchObject({ loops: 100, loopsEndAll: true, durationNs: 60_000_000_000 });
    const endless = planCyclictestRun(settings(['-l', '-5']), machine).probe;
    expect([endless.loops, endless.loopsEndAll]).toEqual([undefined, undefined]);
  });

  it('-A staggers the threads from one start, --secaligned offsets all from the full second', () => {
    expect(planCyclictestRun(settings(['-A', '50', '-t', '2']), machine).probe).toMatchObject({ staggerNs: 50_000 });
    expect(planCyclictestRun(settings(['-A']), machine).probe).toMatchObject({ staggerNs: 0 });
    expect(planCyclictestRun(settings(['--secaligned', '250']), machine).probe).toMatchObject({ aligned: true, alignOffsetNs: 250_000 });
    expect(planCyclictestRun(settings(['--secaligned']), machine).probe).toMatchObject({ aligned: true, alignOffsetNs: 0 });
  });

  it('thresholds in cyclictest\'s unit: whole us above N (ns with -N)', () => {
    expect(planCyclictestRun(settings(['-b', '100', '--spike=20']), machine).probe).toMatchObject({ breakThresholdNs: 100_999, spikeThresholdNs: 20_999, traceOnBreak: false });
    expect(planCyclictestRun(settings(['-N', '-b', '100', '--tracemark']), machine).probe).toMatchObject({ breakThresholdNs: 100, traceOnBreak: true });
  });

  it('--spike-nodes counts only after --spike; --laptop and --default-system leave the DMA latency alone', () => {
    expect(settings(['--spike-nodes=5', '--spike=10']).spikeNodes).toBe(1024);
    expect(settings(['--spike=10', '--spike-nodes=5']).spikeNodes).toBe(5);
    expect(planCyclictestRun(settings(['--laptop']), machine).probe.dmaLatency).toBe(false);
    expect(warnings(['--default-system'])).toEqual(['WARN: not setting cpu_dma_latency from cyclictest']);
  });

  it('-a pins the main thread too, unless --mainaffinity says where; --priospread lowers each thread', () => {
    expect(planCyclictestRun(settings(['-a', '1-2', '-t', '2']), machine).probe.mainCpus).toEqual([1, 2]);
    expect(planCyclictestRun(settings(['-a', '1-2', '--mainaffinity=0']), machine).probe.mainCpus).toEqual([0]);
    const spread = planCyclictestRun(settings(['--priospread', '-p', '90', '-t', '3']), machine);
    expect(spread.threads.map((thread) => thread.priority)).toEqual([90, 89, 88]);
    expect(spread.probe).toMatchObject({ prioritySpread: true, priority: 90 });
  });

  it('--help wins wherever it is, as cyclictest shows it at once', () => {
    expect(parseCyclictestArgs(['-q', '--help', '-z'], machine, {}).kind).toBe('help');
  });
});

describe('what rtlat refuses, in one line naming the option', () => {
  const refusals: [string[], RegExp][] = [
    [['-r'], /^-r: not supported by rtlat: rtlat's threads sleep to absolute times/],
    [['--system'], /^--system: not supported by rtlat: /],
    [['-x'], /^-x: not supported by rtlat: /],
    [['-R'], /^-R: not supported by rtlat: it does not time clock_gettime\(\) calls/],
    [['--smi', '-a'], /^--smi: not supported by rtlat: /],
    [['--latency=10'], /^--latency 10: not supported by rtlat: it holds \/dev\/cpu_dma_latency at 0 only$/],
    [['-c', '2'], /^-c 2: not supported by rtlat: clock 2 is past the end of cyclictest's own table/],
    [['-N', '-h', '100'], /^-h 100: not supported by rtlat: with -N /],
    [['--priospread', '-p', '2', '-t', '3'], /^--priospread: not supported by rtlat: thread 2 would run at priority 0; give -p 3 or more$/],
    [['-i', '0'], /^-i 0: thread 0 would wake every 0us; rtlat measures intervals from 1 to 10000000us$/],
    [['-i', '100', '-d', '-60', '-t', '3'], /^-d -60: thread 2 would wake every -20us/],
  ];
  for (const [argv, message] of refusals) {
    it(JSON.stringify(argv), () => {
      const exit = exitOf(argv);
      expect(exit.message).toMatch(message);
      expect(exit.message).not.toContain('\n');
      expect(exit.exitCode).toBe(2);
    });
  }

  it('cyclictest\'s own errors exit 1, getopt_long\'s 2 (cyclictest would show its help and exit 0)', () => {
    expect(exitOf(['-p', '100'])).toMatchObject({ message: '-p 100: expected a priority from 0 to 99', exitCode: 1 });
    expect(exitOf(['-h', 'x'])).toMatchObject({ message: "-h x: expected the histogram's size in us, e.g. -h 400", exitCode: 1 });
    expect(exitOf(['-a', '9'])).toMatchObject({ message: '-a 9: expected a CPU list such as 0-3,6 of CPUs 0 to 3', exitCode: 1 });
    expect(exitOf(['-z'])).toMatchObject({ message: "invalid option -- 'z'", exitCode: 2 });
    expect(exitOf(['--json'])).toMatchObject({ message: "option '--json' requires an argument", exitCode: 2 });
  });

  it('as a process: the line, prefixed with how rtlat was started, and the exit code', () => {
    const outcome = spawnSync(process.execPath, [RTLAT_BIN, 'cyclictest', '-q', '-x', '-l', '10'], { encoding: 'utf8' });
    expect(outcome.status).toBe(2);
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr).toMatch(/^rtlat cyclictest: -x: not supported by rtlat: [^\n]+\n$/);
    const json = spawnSync(process.execPath, [RTLAT_BIN, 'cyclictest', '-q', '-l', '10', '--json=/nonexistent/x.json'], { encoding: 'utf8' });
    expect(json.status).toBe(2);
    // The same check, and the same line, as every rtlat command's output paths.
    expect(json.stderr).toBe('rtlat cyclictest: --json: got "/nonexistent/x.json", expected a file path in an existing, writable folder; /nonexistent: no such file or directory (ENOENT)\n');
  });
});
