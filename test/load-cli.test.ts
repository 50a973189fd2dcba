// --load from the command line (through `rtlat sweep`): bad specs are usage errors, and no
// generator and no temporary file outlives rtlat, whether it is interrupted or killed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NATIVE_LOAD_KINDS } from '../src/load/index.js';
import type { RunFile } from '../src/run-file/schema.js';
import { usableCpus } from '../src/engine/system.js';
import { RTLAT_BIN, rtlat, scratchDir, type CliOutcome } from './helpers/cli.js';
import { liveInSessions, loadProcesses, loadSupervisors, waitFor, writeCalls } from './helpers/load-processes.js';
import { commandRuns, itWithTool, requireTool } from './helpers/tools.js';

const isRoot = process.getuid?.() === 0;
const cpus = usableCpus().allowed.slice(0, 2);
const cpuList = cpus.join(',');
const stressNg = requireTool('stress-ng', commandRuns('stress-ng', ['--version']), 'apt-get install stress-ng');

describe('bad --load input: one line on stderr, exit 2, nothing started', () => {
  it('rtlat measure refuses a bad spec the same way', () => {
    const outcome = rtlat(['measure', '--duration', '1s', '--load', 'syscalls,nope']);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toMatch(/^rtlat measure: --load: got "syscalls,nope", expected KIND\[,KIND...\] of syscalls, ipc, timers, io, memory, each once, optionally ending with stress-ng:ARGS \(e.g. syscalls,ipc or io,stress-ng:--switch 2\)\n$/);
  });

  const cases: [string, string[], RegExp][] = [
    ['unknown kind', ['--load', 'cpu'], /^rtlat sweep: --load: got "cpu", expected KIND\[,KIND...\] of syscalls, ipc, timers, io, memory/],
    ['a kind twice', ['--load', 'io,io'], /^rtlat sweep: --load: got "io,io", expected .*each once/],
    ['empty', ['--load', ''], /^rtlat sweep: --load: got "", expected KIND/],
    ['stress-ng without arguments', ['--load', 'stress-ng:'], /^rtlat sweep: --load: got "stress-ng:", expected stressors after stress-ng:/],
    ['load CPUs outside the mask', ['--load', 'syscalls', '--load-cpus', '4000'], /^rtlat sweep: --load-cpus: got "4000", expected CPUs in this process's affinity mask/],
    ['malformed load CPUs', ['--load', 'syscalls', '--load-cpus', 'x'], /^rtlat sweep: --load-cpus: got "x", expected a CPU list/],
    ['both conditions without a load', ['--with-and-without-load'], /^rtlat sweep: --with-and-without-load needs --load$/],
    ['load CPUs without a load', ['--load-cpus', '0'], /^rtlat sweep: --load-cpus needs --load$/],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const outcome = rtlat(['sweep', '--periods', '1ms', '--duration', '100ms', ...args]);
      expect(outcome.status).toBe(2);
      const lines = outcome.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(outcome.stdout).toBe('');
    });
  }

  itWithTool(stressNg, 'stress-ng arguments stress-ng refuses', () => {
    const outcome = rtlat(['sweep', '--periods', '1ms', '--duration', '100ms', '--load', 'stress-ng:--cpu-method nope --cpu 1']);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(outcome.stderr.trimEnd()).toMatch(/^rtlat sweep: --load: got "stress-ng:--cpu-method nope --cpu 1", expected arguments stress-ng accepts \(it said: cpu-method must be one of: .*\.\.\.\)$/);
  });

  it('stress-ng missing: one line that says how to install it, exit 1', () => {
    const outcome = spawnSyncWithPath(['sweep', '--periods', '1ms', '--duration', '100ms', '--load', 'stress-ng:--cpu 1']);
    expect(outcome.status).toBe(1);
    expect(outcome.stderr).toBe('rtlat: --load stress-ng:... needs stress-ng, which is not installed (Debian and Ubuntu: apt-get install stress-ng)\n');
  });
});

/** rtlat with a PATH that has no stress-ng on it. */
function spawnSyncWithPath(args: string[]): CliOutcome {
  const child = spawnSync(process.execPath, [RTLAT_BIN, ...args], { encoding: 'utf8', env: { ...process.env, PATH: scratchDir() }, timeout: 60_000 });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/** Starts `rtlat args...` with TMPDIR set, waits until `supervisors` generators run, and signals it. */
async function interrupt(args: string[], tempDir: string, supervisors: number, signal: NodeJS.Signals) {
  const child = spawn(process.execPath, [RTLAT_BIN, ...args], { env: { ...process.env, TMPDIR: tempDir } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  const started = await waitFor(() => loadSupervisors(child.pid!).length === supervisors, 20_000);
  expect(started, stderr).toBe(true);
  // Sessions: each supervisor's own, shared by its workers and by everything stress-ng forks.
  const sessions = new Set(loadSupervisors(child.pid!).map((supervisor) => supervisor.pid));
  // Let them get to work (and the measuring threads start).
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  expect(liveInSessions(sessions).length).toBeGreaterThan(supervisors);
  // An io operation ends with an fsync, which a busy disk may hold for longer: each io worker's third
  // write (its "ready", then one block per counted operation) says it has counted one.
  const ioSessions = new Set(loadSupervisors(child.pid!).filter((supervisor) => supervisor.argv[supervisor.argv.indexOf('--kind') + 1] === 'io').map((supervisor) => supervisor.pid));
  const ioWorkers = liveInSessions(ioSessions).filter((worker) => !ioSessions.has(worker.pid));
  expect(await waitFor(() => ioWorkers.every((worker) => writeCalls(worker.pid) >= 3), 20_000)).toBe(true);
  const tempEntriesBefore = readdirSync(tempDir);
  child.kill(signal);
  const status = await closed;
  return { status, stdout, stderr, sessions, rtlatPid: child.pid!, tempEntriesBefore };
}

describe.skipIf(!isRoot)('no generator and no file outlives rtlat (needs root: run the tests as root, as CI does)', () => {
  const native = NATIVE_LOAD_KINDS.join(',');

  it('after SIGINT: the runs so far are written with every generator\'s work, then everything is gone', async () => {
    const tempDir = scratchDir();
    const out = scratchDir();
    const outcome = await interrupt(
      ['sweep', '--periods', '1ms,2ms', '--duration', '60s', '--cpus', cpuList, '--load', native, '--json', out],
      tempDir,
      NATIVE_LOAD_KINDS.length * cpus.length,
      'SIGINT',
    );
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(outcome.stdout).toMatch(/^interrupted: 1 of 2 runs measured$/m);
    expect(liveInSessions(outcome.sessions)).toEqual([]);
    expect(readdirSync(tempDir)).toEqual([]);
    const run = JSON.parse(readFileSync(path.join(out, 'sweep-1ms.json'), 'utf8')) as RunFile;
    expect(run.stoppedBy).toBe('signal');
    expect(run.load!.spec).toBe(native);
    expect(run.load!.generators).toHaveLength(NATIVE_LOAD_KINDS.length * cpus.length);
    for (const generator of run.load!.generators) expect(generator.operations, generator.kind).toBeGreaterThan(0);
    expect(existsSync(path.join(out, 'sweep-2ms.json'))).toBe(false);
  }, 60_000);

  it('after SIGKILL: the generators stop by themselves and remove their files', async () => {
    const tempDir = scratchDir();
    const outcome = await interrupt(
      ['sweep', '--periods', '1ms', '--duration', '60s', '--cpus', cpuList, '--load', native],
      tempDir,
      NATIVE_LOAD_KINDS.length * cpus.length,
      'SIGKILL',
    );
    expect(outcome.status).toBeNull();
    expect(await waitFor(() => liveInSessions(outcome.sessions).length === 0, 10_000)).toBe(true);
    expect(loadProcesses(outcome.rtlatPid)).toEqual([]);
    expect(readdirSync(tempDir)).toEqual([]);
  }, 60_000);

  it('rtlat measure --load: the run file records the load, and SIGINT leaves nothing behind', async () => {
    const tempDir = scratchDir();
    const file = path.join(scratchDir(), 'run.json');
    const outcome = await interrupt(
      ['measure', '--period', '500us', '--duration', '60s', '--cpus', cpuList, '--load', 'syscalls,timers', '--json', file],
      tempDir,
      2 * cpus.length,
      'SIGINT',
    );
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(outcome.stdout).toMatch(/^load syscalls,timers on CPUs [\d,-]+: [\d.]+[kM]? system calls\/s, [\d.]+[kM]? timer wake-ups\/s$/m);
    const run = JSON.parse(readFileSync(file, 'utf8')) as RunFile;
    expect(run.stoppedBy).toBe('signal');
    expect(run.load).toMatchObject({ spec: 'syscalls,timers', cpus });
    expect(run.load!.generators.map((generator) => generator.kind)).toEqual([...cpus.map(() => 'syscalls'), ...cpus.map(() => 'timers')]);
    for (const generator of run.load!.generators) expect(generator.operations).toBeGreaterThan(0);
    expect(liveInSessions(outcome.sessions)).toEqual([]);
  }, 60_000);

  itWithTool(stressNg, 'after SIGKILL with stress-ng writing files: stress-ng and its workers are gone, its folder removed', async () => {
    const tempDir = scratchDir();
    const outcome = await interrupt(
      ['sweep', '--periods', '1ms', '--duration', '60s', '--cpus', cpuList, '--load', 'io,stress-ng:--hdd 1 --hdd-bytes 1m --switch 1'],
      tempDir,
      cpus.length + 1,
      'SIGKILL',
    );
    expect(outcome.tempEntriesBefore).toEqual([expect.stringMatching(/^rtlat-load-\w{6}$/)]);
    expect(outcome.status).toBeNull();
    expect(await waitFor(() => liveInSessions(outcome.sessions).length === 0, 15_000)).toBe(true);
    expect(readdirSync(tempDir)).toEqual([]);
  }, 60_000);
});
