// The real cyclictest (rt-tests 2.4, Debian 12's) and `rtlat cyclictest` run with the same argument
// lists, the forms real harnesses use among them: both must print the same lines in the same grammar,
// with the same field widths and counts, write JSON with the same keys and types, say the same on
// stderr and exit with the same code. No latency is compared: the values differ, run to run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonShape, lineShape, outputShape } from './helpers/cyclictest-grammar.js';
import { interrupted, RTLAT_BIN, scratchDir, type CliOutcome } from './helpers/cli.js';
import { commandRuns, itWithTool, requireTool } from './helpers/tools.js';

const isRoot = process.getuid?.() === 0;
const cyclictest = requireTool('cyclictest', commandRuns('cyclictest', ['--help']), 'apt-get install rt-tests');
// The installed cyclictest is 2.4: rtlat speaks its dialect.
const RTLAT_ENV = { ...process.env, RTLAT_CYCLICTEST_VERSION: '2.4' };

interface Case {
  name: string;
  args: string[];
  /** Files the run writes (relative to its folder), compared too. */
  files?: string[];
  /** Interrupt with SIGINT this long after it started measuring, instead of waiting for it to end. */
  interruptAfterMs?: number;
}

// Durations are shortened for CI (-D 1m becomes -D 1); the forms stay.
const CASES: Case[] = [
  { name: 'rteval, with its empty argument, stopped by SIGINT', args: ['-i100', '-qmu', '-h 3500', '-p95', '-t2', '-a0-1', ''], interruptAfterMs: 400 },
  { name: 'Linaro test-definitions', args: ['-q', '-p', '98', '-i', '1000', '-t', '1', '-a', '0', '-D', '1', '-m', '--json=linaro.json'], files: ['linaro.json'] },
  { name: 'OSADL latency plots', args: ['-l', '300', '-m', '-Sp90', '-i200', '-h400', '-q'] },
  { name: 'Yocto rt-tests', args: ['-S', '-p', '99', '-q', '-i', '100', '-d', '20', '-l', '300'] },
  {
    name: 'OpenShift, long options',
    args: ['--duration=1', '--priority=95', '--threads=2', '--affinity=0-1', '--mainaffinity=0', '--histogram=30', '--interval=1000', '--quiet', '--mlockall', '--json=openshift.json'],
    files: ['openshift.json'],
  },
  { name: '-q, two threads at the default distance', args: ['-l', '100', '-i', '500', '-t', '2', '-q'] },
  { name: 'live frames', args: ['-l', '100', '-i', '1000', '-t', '2'] },
  { name: 'live frames, FIFO on one CPU', args: ['-l', '100', '-i', '500', '-p', '80', '-a', '1'] },
  { name: '-v samples', args: ['-v', '-l', '20', '-i', '500', '-t', '2'] },
  { name: '-v -o (oscilloscope), quiet', args: ['-v', '-o', '5', '-l', '50', '-i', '500', '-q'] },
  { name: '-N (nanoseconds)', args: ['-N', '-q', '-l', '100', '-i', '500', '-t', '2'] },
  { name: '-H (summary column)', args: ['-H', '20', '-q', '-l', '200', '-i', '200', '-t', '2', '-p', '90'] },
  { name: '--histfile', args: ['-h', '25', '--histfile=hist.txt', '-q', '-l', '200', '-i', '200'], files: ['hist.txt'] },
  { name: '--json with a histogram', args: ['-q', '-l', '200', '-i', '200', '-h', '40', '-t', '2', '-p', '90', '--json=run.json'], files: ['run.json'] },
  { name: '--json=- (to stdout)', args: ['-q', '-l', '100', '-i', '500', '--json=-'] },
  { name: '-b (break lines)', args: ['-b', '1', '-q', '-l', '2000', '-i', '200', '-p', '90'] },
  { name: '--spike', args: ['--spike=1', '-q', '-l', '100', '-i', '500', '-t', '2'] },
  { name: '--spike-nodes', args: ['--spike=1', '--spike-nodes=10', '-q', '-l', '100', '-i', '500'] },
  { name: '--secaligned', args: ['--secaligned', '-q', '-l', '100', '-i', '500', '-t', '2', '-p', '90'] },
  { name: '-A (aligned, with an offset)', args: ['-A', '50', '-q', '-l', '100', '-i', '500', '-t', '2', '-p', '90'] },
  { name: '--priospread', args: ['--priospread', '-p', '90', '-t', '2', '-q', '-l', '100', '-i', '500'] },
  { name: '--policy=rr', args: ['--policy=rr', '-p', '50', '-q', '-l', '100', '-i', '500'] },
  { name: '--policy=batch, live', args: ['--policy=batch', '-l', '50', '-i', '1000'] },
  { name: '-c 1 (CLOCK_REALTIME)', args: ['-c', '1', '-q', '-l', '100', '-i', '500'] },
  { name: '--laptop', args: ['--laptop', '-q', '-l', '100', '-i', '500'] },
  { name: '--default-system -M, live', args: ['--default-system', '-M', '-l', '200', '-i', '500', '-t', '2'] },
  { name: '-h with -d (its warning)', args: ['-h', '20', '-d', '100', '-q', '-l', '100', '-i', '500', '-t', '2'] },
  { name: '-t and -a without values', args: ['-t', '-a', '-q', '-l', '100', '-i', '500'] },
  { name: '-t 2 -a 0-1, values as separate elements', args: ['-t', '2', '-a', '0-1', '-q', '-l', '100', '-i', '500'] },
  { name: 'abbreviated long options', args: ['--int=500', '--loo=100', '--qu', '--thr=2'] },
  { name: '-S with -t (its warning)', args: ['-S', '-t', '1', '-q', '-l', '100', '-i', '500'] },
  { name: '-u -m', args: ['-u', '-m', '-q', '-l', '100', '-i', '500'] },
  { name: '-F (a named pipe for the status)', args: ['-F', 'status.fifo', '-q', '-l', '100', '-i', '500', '-t', '2'] },
  { name: '--help', args: ['--help'] },
  { name: '-a before -S (fatal)', args: ['-a', '0', '-S', '-q', '-l', '10'] },
];

// cyclictest shows its help for a bad value and exits 1; rtlat says which value in one line, and exits 1 too.
const FAILING: Case[] = [
  { name: '-h 0', args: ['-h', '0', '-q', '-l', '10'] },
  { name: '-p 100', args: ['-p', '100', '-q', '-l', '10'] },
  { name: '--threads=0', args: ['--threads=0', '-q', '-l', '10'] },
  { name: '-o without -v', args: ['-o', '2', '-q', '-l', '10'] },
  { name: '-A with --secaligned', args: ['-A', '--secaligned', '-q', '-l', '10'] },
];

interface Outcome extends CliOutcome {
  files: Record<string, string>;
}

function runIn(dir: string, command: string, args: string[], testCase: Case, env: NodeJS.ProcessEnv): Promise<Outcome> | Outcome {
  mkdirSync(dir, { recursive: true });
  const collect = (outcome: CliOutcome): Outcome => ({
    ...outcome,
    files: Object.fromEntries((testCase.files ?? []).map((file) => [file, existsSync(path.join(dir, file)) ? readFileSync(path.join(dir, file), 'utf8') : '<missing>'])),
  });
  if (testCase.interruptAfterMs !== undefined) return interrupted(command, args, 'SIGINT', testCase.interruptAfterMs, { cwd: dir, env }).then(collect);
  const child = spawnSync(command, args, { cwd: dir, env, encoding: 'utf8', timeout: 30_000 });
  return collect({ status: child.status, stdout: child.stdout, stderr: child.stderr });
}

/** The values of cyclictest's JSON that the command line and the machine decide, compared as they are. */
const JSON_LITERALS = /^\.(file_version|cmdline:|rt_test_version:|return_code|sysinfo\..*|num_threads|resolution_in_ns|thread\.\d+\.(cpu|node))$/;

function compare(theirs: Outcome, ours: Outcome, testCase: Case): void {
  const what = testCase.name;
  expect(ours.status, `${what}: exit code (stderr: ${ours.stderr})`).toBe(theirs.status);
  const [theirShape, ourShape] = [outputShape(theirs.stdout), outputShape(ours.stdout)];
  expect(theirShape.problems, `${what}: cyclictest's own frames`).toEqual([]);
  expect(ourShape.problems, `${what}: rtlat's frames`).toEqual([]);
  // A field padded to the wrong width would be the same wrong shape on both sides only by accident; say so.
  expect(theirShape.shape.filter((line) => line.includes('#bad')), `${what}: cyclictest's widths, as the grammar has them`).toEqual([]);
  expect(ourShape.shape, `${what}: stdout`).toEqual(theirShape.shape);
  expect(ours.stderr, `${what}: stderr`).toBe(theirs.stderr);
  for (const file of testCase.files ?? []) {
    const [a, b] = [theirs.files[file]!, ours.files[file]!];
    expect(b, `${what}: ${file} written`).not.toBe('<missing>');
    if (file.endsWith('.json')) {
      const literal = (jsonPath: string) => JSON_LITERALS.test(jsonPath);
      expect(jsonShape(JSON.parse(b), literal), `${what}: ${file}`).toEqual(jsonShape(JSON.parse(a), literal));
      // Where JSON leaves the layout free, cyclictest's is kept: its line structure, "%.2f" averages, dates.
      expect(outputShape(b).shape, `${what}: ${file} lines`).toEqual(outputShape(a).shape);
    } else {
      expect(outputShape(b).shape, `${what}: ${file}`).toEqual(outputShape(a).shape);
    }
  }
}

describe('the grammar the comparison uses', () => {
  it('keeps printf\'s field widths, lets a value too wide for its field widen it, and catches bad padding', () => {
    const line = (act: string) => `T: 0 (12345) P:99 I:500 C:   1000 Min:     12 Act:${act} Avg:   14 Max:     120`;
    expect(lineShape(line('   13'))).toBe('T: 0 (#5) P:99 I:500 C:#7 Min:#7 Act:#5 Avg:#5 Max:#8');
    expect(lineShape(line('123456'))).toBe(lineShape(line('   13')));
    expect(lineShape(line('  13'))).toContain('#bad');
    expect(lineShape('# Min Latencies: 00013 1000000')).toBe('# Min Latencies: #5 #5');
    expect(lineShape('# Min Latencies: 0013')).toContain('#bad');
    // Lines the command line decides stay as they are.
    expect(lineShape('Thread 0 Interval: 1500')).toBe('Thread 0 Interval: 1500');
  });

  it('folds live frames into one, checking that each moves the cursor up over the one before', () => {
    const frame = 'policy: fifo: loadavg: 0.52 0.58 0.59 1/165 4242          \n\nT: 0 (12345) P:99 I:500 C:   1000 Min:     12 Act:   13 Avg:   14 Max:     120\n';
    const three = `# /dev/cpu_dma_latency set to 0us\n${frame}\x1b[3A${frame}\x1b[3A${frame}`;
    expect(outputShape(three)).toEqual(outputShape(`# /dev/cpu_dma_latency set to 0us\n${frame}`));
    expect(outputShape(three).problems).toEqual([]);
    expect(outputShape(`${frame}\x1b[4A${frame}`).problems).toEqual(['frame at line 3 moves up 4 lines, not 3']);
    expect(outputShape(`${frame}${frame}`).problems).toEqual(['frame at line 3 does not move the cursor up']);
  });
});

describe.skipIf(!isRoot)('rtlat cyclictest against cyclictest 2.4 (needs root)', () => {
  const dir = scratchDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  CASES.forEach((testCase, index) => {
    itWithTool(cyclictest, `${testCase.name}: ${JSON.stringify(testCase.args)}`, async () => {
      const theirs = await runIn(path.join(dir, `${index}-cyclictest`), 'cyclictest', testCase.args, testCase, process.env);
      const ours = await runIn(path.join(dir, `${index}-rtlat`), process.execPath, [RTLAT_BIN, 'cyclictest', ...testCase.args], testCase, RTLAT_ENV);
      compare(theirs, ours, testCase);
    });
  });

  FAILING.forEach((testCase, index) => {
    itWithTool(cyclictest, `${testCase.name} fails as cyclictest fails: ${JSON.stringify(testCase.args)}`, async () => {
      const theirs = await runIn(path.join(dir, `failing-${index}-cyclictest`), 'cyclictest', testCase.args, testCase, process.env);
      const ours = await runIn(path.join(dir, `failing-${index}-rtlat`), process.execPath, [RTLAT_BIN, 'cyclictest', ...testCase.args], testCase, RTLAT_ENV);
      expect(ours.status).toBe(theirs.status);
      expect(theirs.stdout.startsWith('cyclictest V 2.40\nUsage:')).toBe(true);
      // One line, naming the option as written.
      const option = testCase.args[0]!.replace(/=.*/, '');
      expect(ours.stderr).toMatch(new RegExp(`^(WARN: .*\\n)*rtlat cyclictest: ${option}[ :][^\\n]*\\n$`));
    });
  });

  itWithTool(cyclictest, 'started under the name cyclictest (a symlink), rtlat is cyclictest', async () => {
    const bin = path.join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(RTLAT_BIN, path.join(bin, 'cyclictest'));
    const testCase: Case = { name: 'symlink', args: ['-q', '-l', '50', '-i', '500', '-t', '2', '--json=run.json'], files: ['run.json'] };
    const theirs = await runIn(path.join(dir, 'symlink-cyclictest'), 'cyclictest', testCase.args, testCase, process.env);
    const ours = await runIn(path.join(dir, 'symlink-rtlat'), path.join(bin, 'cyclictest'), testCase.args, testCase, RTLAT_ENV);
    compare(theirs, ours, testCase);
    const unknown = spawnSync(path.join(bin, 'cyclictest'), ['-z'], { encoding: 'utf8' });
    expect(unknown.stderr).toBe("cyclictest: invalid option -- 'z'\n");
  });
});
