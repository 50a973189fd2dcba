// The load generators through the library: each starts where it is told, as SCHED_OTHER, does
// work its own counters show, and leaves no process and no file behind, also when it fails.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OptionError } from '../src/errors.js';
import { NATIVE_LOAD_KINDS, startLoad } from '../src/load/index.js';
import { usableCpus } from '../src/engine/system.js';
import { formatCpuList } from '../src/units.js';
import { scratchDir } from './helpers/cli.js';
import { allowedCpus, liveInSessions, loadProcesses, loadSupervisors, openFiles, schedulingPolicy, waitFor, writeCalls } from './helpers/load-processes.js';
import { commandRuns, itWithTool, requireTool } from './helpers/tools.js';

const cpus = usableCpus().allowed.slice(0, 2);
const stressNg = requireTool('stress-ng', commandRuns('stress-ng', ['--version']), 'apt-get install stress-ng');
const WORK_MS = 300;

function sessionsOf(supervisors: { pid: number }[]): Set<number> {
  return new Set(supervisors.map((supervisor) => supervisor.pid));
}

/** Workers per generator, as native/load/kinds.c plans them. */
const WORKERS: Record<(typeof NATIVE_LOAD_KINDS)[number], number> = { syscalls: 1, ipc: 8, timers: 2, io: 1, memory: 1 };

describe('native load generators', () => {
  for (const kind of NATIVE_LOAD_KINDS) {
    it(`${kind}: one generator per CPU, pinned and SCHED_OTHER, counts its work, and is gone after stop`, async () => {
      const dir = scratchDir();
      const load = await startLoad(kind, { cpus, tempDir: dir });
      const supervisors = loadSupervisors(process.pid);
      expect(supervisors).toHaveLength(cpus.length);
      const sessions = sessionsOf(supervisors);
      const workers = liveInSessions(sessions).filter((worker) => !sessions.has(worker.pid));
      expect(workers).toHaveLength(WORKERS[kind] * cpus.length);
      for (const worker of workers) {
        expect(schedulingPolicy(worker.pid)).toBe(0);
        expect(cpus.map((cpu) => `${cpu}`)).toContain(allowedCpus(worker.pid));
      }
      if (kind === 'io') {
        // The file lives in the folder asked for, but has no name there.
        expect(workers.every((worker) => openFiles(worker.pid).some((file) => file.startsWith(`${dir}/`) && file.endsWith('(deleted)')))).toBe(true);
        expect(readdirSync(dir)).toEqual([]);
      }
      await new Promise((resolve) => setTimeout(resolve, WORK_MS));
      // An io operation ends with an fsync, which a busy disk may hold for longer than WORK_MS. A worker's
      // writes: its "ready" to the supervisor, then a block per operation, the next one only once the
      // previous operation is counted: a third write means one operation counted.
      if (kind === 'io') expect(await waitFor(() => workers.every((worker) => writeCalls(worker.pid) >= 3), 20_000)).toBe(true);

      const result = await load.stop();
      expect(result.spec).toBe(kind);
      expect(result.cpus).toEqual(cpus);
      expect(result.generators.map((generator) => [generator.kind, generator.cpu])).toEqual(cpus.map((cpu) => [kind, cpu]));
      for (const generator of result.generators) {
        expect(Number.isSafeInteger(generator.operations)).toBe(true);
        expect(generator.operations).toBeGreaterThan(0);
        expect(generator.opsPerSecond).toBeGreaterThan(0);
      }
      expect(liveInSessions(sessions)).toEqual([]);
      expect(readdirSync(dir)).toEqual([]);
      // stop() again gives the same answer without doing anything.
      expect(await load.stop()).toBe(result);
    });
  }

  it('ipc wakes across CPUs: senders on the generator\'s CPU, receivers on the next one', async () => {
    if (cpus.length < 2) return;
    const load = await startLoad('ipc', { cpus });
    try {
      const [first] = loadSupervisors(process.pid).filter((supervisor) => supervisor.argv.includes('--cpu') && supervisor.argv[supervisor.argv.indexOf('--cpu') + 1] === `${cpus[0]}`);
      const workers = liveInSessions(new Set([first!.pid])).filter((worker) => worker.pid !== first!.pid);
      const placed = workers.map((worker) => allowedCpus(worker.pid)).sort();
      expect(placed).toEqual([...Array(4).fill(`${cpus[0]}`), ...Array(4).fill(`${cpus[1]}`)].sort());
    } finally {
      await load.stop();
    }
  });

  itWithTool(stressNg, 'stress-ng: runs pinned to the load CPUs in a folder of its own, reports each stressor, and leaves nothing', async () => {
    const dir = scratchDir();
    const load = await startLoad('stress-ng:--switch 1 --hdd 1 --hdd-bytes 1m', { cpus, tempDir: dir });
    const supervisors = loadSupervisors(process.pid);
    expect(supervisors).toHaveLength(1);
    const sessions = sessionsOf(supervisors);
    // stress-ng and its workers (two per --switch pair, one per --hdd) come up.
    expect(await waitFor(() => liveInSessions(sessions).filter((p) => p.argv[0]?.startsWith('stress-ng')).length >= 3, 5_000)).toBe(true);
    for (const stress of liveInSessions(sessions).filter((p) => !sessions.has(p.pid))) expect(allowedCpus(stress.pid)).toBe(formatCpuList(cpus));
    expect(readdirSync(dir)).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const result = await load.stop();
    expect(result.generators.map((generator) => generator.kind).sort()).toEqual(['stress-ng:hdd', 'stress-ng:switch']);
    for (const generator of result.generators) {
      expect(generator.cpu).toBeNull();
      expect(generator.operations).toBeGreaterThan(0);
      expect(generator.opsPerSecond).toBeGreaterThan(0);
    }
    expect(liveInSessions(sessions)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  }, 30_000);

  itWithTool(stressNg, 'stress-ng: arguments it refuses are an OptionError before anything starts', async () => {
    await expect(startLoad('stress-ng:--no-such-stressor 1', { cpus })).rejects.toThrow(OptionError);
    await expect(startLoad('stress-ng:--no-such-stressor 1', { cpus })).rejects.toThrow(/^load: got "stress-ng:--no-such-stressor 1", expected arguments stress-ng accepts \(it said: .*no-such-stressor/);
    expect(loadSupervisors(process.pid)).toEqual([]);
  });
});

describe('load generators that fail', () => {
  it('refuses CPUs this process may not use, naming --load-cpus', async () => {
    await expect(startLoad('syscalls', { cpus: [4095] })).rejects.toThrow(/^load-cpus: got "4095", expected CPUs in this process's affinity mask/);
    await expect(startLoad('syscalls', { cpus: [] })).rejects.toThrow(OptionError);
  });

  it('a generator that cannot set up rejects the start, and the others are stopped', async () => {
    const missing = path.join(scratchDir(), 'missing');
    await expect(startLoad('syscalls,io', { cpus, tempDir: missing })).rejects.toThrow(
      new RegExp(`^rtlat: the io on CPU \\d load could not start: rtlat-load: cannot create a temporary file in ${missing}: No such file or directory$`),
    );
    expect(await waitFor(() => loadProcesses(process.pid).length === 0, 2_000)).toBe(true);
  });

  it('a worker that dies mid-run makes stop() fail with what happened, after stopping every generator', async () => {
    const load = await startLoad('syscalls,timers', { cpus });
    const supervisors = loadSupervisors(process.pid);
    const sessions = sessionsOf(supervisors);
    const victim = liveInSessions(sessions).find((worker) => !sessions.has(worker.pid))!;
    process.kill(victim.pid, 'SIGKILL');
    await waitFor(() => liveInSessions(new Set([victim.session])).length === 0, 2_000);
    await expect(load.stop()).rejects.toThrow(/^rtlat: the (syscalls|timers) on CPU \d load ended before it was stopped: rtlat-load: a (syscalls|timers) worker on CPU \d was killed by signal 9$/);
    expect(liveInSessions(sessions)).toEqual([]);
  });

  it('a running load does not keep the process alive, and ends with it', async () => {
    const dist = path.resolve(import.meta.dirname, '../dist/load/index.js');
    const script = `import(${JSON.stringify(dist)}).then(async ({ startLoad }) => { await startLoad('syscalls,io', { cpus: [${cpus[0]}] }); console.log('started'); })`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stdout).toBe('started\n');
    expect(exitCode).toBe(0);
    expect(await waitFor(() => loadProcesses(child.pid!).length === 0, 5_000)).toBe(true);
  });
});
