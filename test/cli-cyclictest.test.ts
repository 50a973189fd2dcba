// rtlat cyclictest as a process, for what the side-by-side comparison cannot show: rtlat's own files
// beside cyclictest's outputs, the running status on SIGUSR1 and SIGUSR2, and -l's rule.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunFile } from '../src/run-file/schema.js';
import { rtlat, RTLAT_BIN, scratchDir } from './helpers/cli.js';
import { schemaProblems } from './helpers/schema.js';

const isRoot = process.getuid?.() === 0;
const SUMMARY = /^T: ?(\d+) \(\s*(\d+)\) P:\s*(\d+) I:(\d+) C:\s*(\d+) Min:\s*\d+ Act:\s*\d+ Avg:\s*\d+ Max:\s*\d+$/;

function cyclictest(args: string[], cwd?: string) {
  return spawnSync(process.execPath, [RTLAT_BIN, 'cyclictest', ...args], { encoding: 'utf8', cwd, timeout: 30_000 });
}

describe('a cyclictest option given to rtlat\'s own commands', () => {
  it('-h N is never help: one line pointing at --histogram and rtlat cyclictest, exit 2', () => {
    for (const args of [['measure', '-h', '50'], ['sweep', '-h', '50'], ['serve', '-h', '50'], ['-h', '50']]) {
      const outcome = rtlat(args);
      expect(outcome.status, args.join(' ')).toBe(2);
      expect(outcome.stdout).toBe('');
      expect(outcome.stderr).toMatch(/^rtlat( \w+)?: unknown option '-h': -h is cyclictest's; rtlat measure keeps its histogram with --histogram N \(and help is --help\), or run cyclictest's command line as it is with `rtlat cyclictest -h \.\.\.`\n$/);
    }
    expect(rtlat(['measure', '--help'])).toMatchObject({ status: 0, stdout: expect.stringMatching(/^Usage: rtlat measure /) });
  });

  it('-m, -qmu, -S, -c 0, --interval: what rtlat calls it, in the same line', () => {
    const cases: [string[], RegExp][] = [
      [['-m'], /^rtlat measure: unknown option '-m': -m is cyclictest's; rtlat locks the measuring threads' memory by default, or run .*`rtlat cyclictest -m \.\.\.`$/],
      [['-qmu'], /^rtlat measure: unknown option '-mu': -m is cyclictest's; /],
      [['-S'], /^rtlat measure: unknown option '-S': -S is cyclictest's; one thread per CPU is rtlat's default, /],
      [['-c', '0'], /^rtlat measure: option '-c, --clock <clock>' argument '0' is invalid\. Allowed choices are monotonic, realtime: -c is cyclictest's; rtlat takes --clock monotonic or realtime, /],
      [['--interval=100'], /^rtlat measure: unknown option '--interval=100': --interval is cyclictest's; rtlat takes --period/],
    ];
    for (const [args, line] of cases) {
      const outcome = rtlat(['measure', ...args]);
      expect(outcome.status).toBe(2);
      expect(outcome.stderr.split('\n')).toEqual([expect.stringMatching(line), '']);
    }
    // Not a cyclictest option: no hint.
    expect(rtlat(['measure', '--bogus']).stderr).toBe("rtlat measure: unknown option '--bogus' (see rtlat measure --help)\n");
  });
});

describe('rtlat cyclictest --rtlat-explain: bad input', () => {
  it('refuses -c 1 (the kernel traces on CLOCK_MONOTONIC), a bad threshold, and --rtlat-explain-max alone, in one line each', () => {
    const cases: [string[], string | RegExp][] = [
      [['-c', '1', '--rtlat-explain'], 'rtlat cyclictest: --rtlat-explain needs CLOCK_MONOTONIC (the kernel traces on it); drop -c 1\n'],
      [['--rtlat-explain=lots'], /^rtlat cyclictest: --rtlat-explain: got "lots", expected a duration in ns\/us\/ms\/s .*\n$/],
      [['--rtlat-explain-max=5'], 'rtlat cyclictest: --rtlat-explain-max needs --rtlat-explain\n'],
    ];
    for (const [args, line] of cases) {
      const outcome = cyclictest(['-q', '-l', '5', ...args]);
      expect(outcome.status, args.join(' ')).toBe(2);
      expect(outcome.stdout).toBe('');
      if (typeof line === 'string') expect(outcome.stderr).toBe(line);
      else expect(outcome.stderr).toMatch(line);
    }
  });
});

describe.skipIf(!isRoot)('rtlat cyclictest (needs root)', () => {
  it('rtlat measure -q, printing only to stdout, says that its -q is not cyclictest\'s', () => {
    const outcome = rtlat(['measure', '-q', '--loops', '5', '--cpus', '0']);
    expect(outcome.status).toBe(0);
    expect(outcome.stderr).toBe("rtlat measure: hint: -q only hides the live status line; for cyclictest's T: lines add --format cyclictest, or run `rtlat cyclictest -q ...`\n");
    expect(rtlat(['measure', '-q', '--loops', '5', '--cpus', '0', '--format', 'cyclictest']).stderr).toBe('');
  });

  const dir = scratchDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes rtlat\'s run file and HDR log beside cyclictest\'s outputs, which stay as they are', () => {
    const [json, log] = [path.join(dir, 'run.json'), path.join(dir, 'run.hlog')];
    const outcome = cyclictest(['-q', '-m', '-p', '90', '-i', '500', '-l', '400', '-t', '2', '-a', '0-1', `--rtlat-json=${json}`, '--rtlat-hdr-log', log]);
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(outcome.stdout.split('\n').filter((line) => SUMMARY.test(line))).toHaveLength(2);
    const run = JSON.parse(readFileSync(json, 'utf8')) as RunFile;
    expect(schemaProblems(run)).toBe('');
    expect(run.commandLine).toBe(`rtlat cyclictest -q -m -p 90 -i 500 -l 400 -t 2 -a 0-1 --rtlat-json=${json} --rtlat-hdr-log ${log}`);
    expect(run.config).toMatchObject({ periodNs: 500_000, distanceNs: 500_000, policy: 'fifo', priority: 90, loops: 400, cpus: [0, 1], mainCpus: [0, 1], lockMemory: true });
    expect(run.threads.map((thread) => thread.applied)).toEqual([
      { policy: 'fifo', priority: 90, cpus: [0] },
      { policy: 'fifo', priority: 90, cpus: [1] },
    ]);
    expect(readFileSync(log, 'utf8')).toMatch(/^#\[StartTime: /m);
  });

  it('--rtlat-explain: the explanation goes into the run file and its summary on stderr; stdout stays cyclictest\'s', () => {
    const json = path.join(dir, 'explained.json');
    const outcome = cyclictest(['-q', '-m', '-p', '90', '-i', '1000', '-l', '300', '-t', '1', '-a', '1', `--rtlat-json=${json}`, '--rtlat-explain=0', '--rtlat-explain-max=20']);
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(outcome.stdout.split('\n').filter(Boolean).every((line) => SUMMARY.test(line) || line.startsWith('# /dev/cpu_dma_latency'))).toBe(true);
    const run = JSON.parse(readFileSync(json, 'utf8')) as RunFile;
    expect(schemaProblems(run)).toBe('');
    // Threshold 0: every wake-up is a candidate, the 20 largest are explained.
    expect(run.explain!.summary.wakeups).toBe(20);
    expect(run.explain!.wakeups.every((wakeup) => wakeup.thread === 0)).toBe(true);
    expect(outcome.stderr).toContain(run.explain!.summary.headline);
    expect(readdirSync('/sys/kernel/tracing/instances').filter((name) => name.startsWith('rtlat-'))).toEqual([]);
  });

  it('without CAP_SYS_NICE: -p is refused with what to grant (exit 3); SCHED_OTHER still runs, as cyclictest\'s threads would', () => {
    // Root without capabilities: the kernel refuses SCHED_FIFO (RLIMIT_RTPRIO is 0), as for a user.
    const withoutCaps = (args: string[]) => spawnSync('setpriv', ['--bounding-set=-all', '--inh-caps=-all', process.execPath, RTLAT_BIN, 'cyclictest', ...args], { encoding: 'utf8', timeout: 30_000 });
    const refused = withoutCaps(['-p', '99', '-l', '10', '-q']);
    expect(refused.status).toBe(3);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^rtlat: not permitted: SCHED_FIFO priority 99 \(EPERM\)\. Grant it: .* or measure without them \(no -p, no -m\) at SCHED_OTHER\n$/);
    const other = withoutCaps(['-l', '10', '-q']);
    expect(other.status, other.stderr).toBe(0);
    expect(other.stdout.split('\n').filter((line) => SUMMARY.test(line))).toHaveLength(1);
  });

  it('unpinned threads (no -a, from 2.5 on) and --priospread are what the kernel applied, in a valid run file', () => {
    const json = path.join(dir, 'spread.json');
    const outcome = cyclictest(['-q', '-p', '90', '--priospread', '-t', '2', '-i', '500', '-l', '100', `--rtlat-json=${json}`]);
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(outcome.stdout.split('\n').map((line) => SUMMARY.exec(line)?.[3]).filter(Boolean)).toEqual(['90', '89']);
    const run = JSON.parse(readFileSync(json, 'utf8')) as RunFile;
    expect(schemaProblems(run)).toBe('');
    expect(run.config.cpus).toEqual([null, null]);
    expect(run.threads.map((thread) => [thread.applied!.policy, thread.applied!.priority, thread.applied!.cpus.length > 1])).toEqual([
      ['fifo', 90, true],
      ['fifo', 89, true],
    ]);
  });

  it('-l: the first thread to reach it has exactly that many wake-ups, and every other thread stops then', () => {
    const json = path.join(dir, 'loops.json');
    const outcome = cyclictest(['-q', '-p', '90', '-i', '200', '-l', '500', '-t', '2', `--rtlat-json=${json}`]);
    expect(outcome.status, outcome.stderr).toBe(0);
    const cycles = outcome.stdout.split('\n').map((line) => SUMMARY.exec(line)).filter((match) => match !== null).map((match) => Number(match[5]));
    expect(cycles[0]).toBe(500);
    // Thread 1 wakes every 700us: it had at most 500 * 200 / 700 (+1) wake-ups when thread 0 finished, and was stopped soon after.
    expect(cycles[1]).toBeGreaterThan(0);
    expect(cycles[1]).toBeLessThan(500);
    // The run file says so: the run completed (by its loops), with counts uneven by design.
    const run = JSON.parse(readFileSync(json, 'utf8')) as RunFile;
    expect(run.config).toMatchObject({ loops: 500, loopsEndAll: true });
    expect(run.stoppedBy).toBe('completed');
    expect(run.threads.map((thread) => thread.count)).toEqual(cycles);
  });

  it('-A and --secaligned: the run file says how the threads started', () => {
    const startOf = (args: string[]) => {
      const json = path.join(dir, `start-${args.join('')}.json`);
      const outcome = cyclictest(['-q', '-p', '90', '-i', '1000', '-l', '20', '-t', '2', ...args, `--rtlat-json=${json}`]);
      expect(outcome.status, outcome.stderr).toBe(0);
      const { aligned, alignOffsetNs, staggerNs } = (JSON.parse(readFileSync(json, 'utf8')) as RunFile).config;
      return { aligned, alignOffsetNs, staggerNs };
    };
    expect(startOf(['-A', '100'])).toEqual({ aligned: false, alignOffsetNs: null, staggerNs: 100_000 });
    expect(startOf(['--secaligned', '250'])).toEqual({ aligned: true, alignOffsetNs: 250_000, staggerNs: null });
    expect(startOf([])).toEqual({ aligned: false, alignOffsetNs: null, staggerNs: null });
  });

  it('-F PATH: each reader of the named pipe gets the T: lines of the moment; the pipe is gone at the end', async () => {
    const fifo = path.join(dir, 'status.fifo');
    const child = spawn(process.execPath, [RTLAT_BIN, 'cyclictest', '-q', '-p', '90', '-i', '1000', '-t', '2', '-D', '60', '-F', fifo]); // ended by SIGINT below; -D only bounds it
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    for (let waited = 0; !existsSync(fifo); waited += 20) {
      if (waited > 10_000) throw new Error('no fifo');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (let reader = 0; reader < 2; reader++) {
      const read = spawnSync('timeout', ['5', 'cat', fifo], { encoding: 'utf8' });
      const lines = read.stdout.split('\n').filter(Boolean);
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(lines.length % 2).toBe(0);
      expect(lines.every((line) => SUMMARY.test(line))).toBe(true);
    }
    child.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(existsSync(fifo)).toBe(false);
  });

  it('SIGUSR1 prints the running status on stderr; SIGUSR2 leaves it in /dev/shm/cyclictest<pid>, removed at exit', async () => {
    const child = spawn(process.execPath, [RTLAT_BIN, 'cyclictest', '-q', '-p', '90', '-i', '1000', '-t', '2', '-m']);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const shm = `/dev/shm/cyclictest${child.pid}`;
    const until = async (condition: () => boolean) => {
      for (let waited = 0; !condition(); waited += 20) {
        if (waited > 10_000) throw new Error('timed out');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await until(() => stdout.includes('# /dev/cpu_dma_latency'));
    await until(() => existsSync(shm));
    child.kill('SIGUSR1');
    await until(() => stderr.includes('#---------------------------\n# cyclictest current status:\n'));
    child.kill('SIGUSR2');
    await until(() => readFileSync(shm, 'utf8').length > 0);
    const status = readFileSync(shm, 'utf8').split('\n');
    expect(status.slice(0, 2)).toEqual(['#---------------------------', '# cyclictest current status:']);
    expect(status.slice(2, 4).every((line) => SUMMARY.test(line))).toBe(true);
    expect(status[4]).toBe('#---------------------------');
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(stdout.split('\n').filter((line) => SUMMARY.test(line))).toHaveLength(2);
    expect(existsSync(shm)).toBe(false);
  });
});
