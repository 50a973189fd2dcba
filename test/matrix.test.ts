// `rtlat matrix`, the research's experiment end to end: the host, then a guest with Debian's cloud
// kernel and one with its PREEMPT_RT kernel (under TCG here), then a container; every run file, the
// host/guest kernel table and the report in one folder. The RT guest's fingerprint says PREEMPT_RT,
// and `rtlat compare --matrix` puts the guests and the host in one table.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostKernelKind } from '../src/run-file/environment.js';
import type { Fingerprint } from '../src/fingerprint/index.js';
import type { RunFile, RunQemuGuest } from '../src/run-file/schema.js';
import { rtlat, scratchDir } from './helpers/cli.js';
import { schemaProblems } from './helpers/schema.js';
import { itWithTool } from './helpers/tools.js';
import { buildTestImage, grantPodmanRtBudget, podmanTools, sandboxEngineArgs, TEST_IMAGE } from './helpers/container.js';
import { guestTemporaryFiles, guestTools, processesLeft, rtlatAsync, testKernels, type TestKernels } from './helpers/guest.js';

function readRun<T = RunFile>(dir: string, name: string): T {
  return JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as T;
}

describe('rtlat matrix: bad input, one line, exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['nothing to compare', [], /nothing to compare the host with: give --kernels, --container, or both/],
    ['a kernel without a label', ['--kernels', '/boot/vmlinuz'], /--kernels: got "\/boot\/vmlinuz", expected LABEL=PATH/],
    ['a label twice', ['--kernels', `a=${process.execPath},a=${process.execPath}`], /--kernels: got .*, expected LABEL=PATH.* distinct labels/],
    ['a missing kernel', ['--kernels', 'rt=/nonexistent/vmlinuz'], /--kernels: got "\/nonexistent\/vmlinuz", expected a bzImage kernel file such as \/boot\/vmlinuz-\* \(no such file\)$/],
    ['a file that is not a kernel', ['--kernels', `rt=${process.execPath}`], /--kernels: got ".*", expected a bzImage kernel file .* \(this file has no Linux boot header\)$/],
    ['a bad measure option', ['--kernels', `rt=${process.execPath}`, '--period', '0'], /--period: got "0"/],
    ['--explain with a container', ['--container', 'rtlat', '--explain'], /--explain traces the kernel where each run measures, which a container cannot \(no tracefs inside\): drop --container or --explain$/],
    ['a bad explain threshold', ['--container', 'rtlat', '--explain', 'lots'], /--explain: got "lots"/],
    ['--explain-host, which implies --explain, with a container', ['--container', 'rtlat', '--explain-host'], /--explain traces the kernel where each run measures, which a container cannot/],
    ['--explain-host for Xen\'s domUs', ['--kernels', `rt=${process.execPath}`, '--hypervisor', 'xen', '--explain-host'], /--explain-host traces the host's vCPU threads, and a Xen domU has none/],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const outcome = rtlat(['matrix', '-o', scratchDir(), '--loops', '10', ...args]);
      expect(outcome.status).toBe(2);
      const lines = outcome.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^rtlat matrix: /);
      expect(lines[0]).toMatch(message);
    });
  }
});

describe('rtlat matrix with guests', () => {
  let kernels: TestKernels;
  beforeAll(() => {
    if (!guestTools.skip) kernels = testKernels();
  }, 300_000);

  itWithTool(guestTools, 'measures the host and both kernels\' guests, and tabulates them by host/guest kernel', async () => {
    const dir = scratchDir();
    const outcome = await rtlatAsync(['matrix', '--kernels', kernels.spec, '--loops', '300', '--period', '1ms', '-o', dir]);
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(processesLeft()).toEqual([]);
    expect(guestTemporaryFiles()).toEqual([]);

    const host = readRun(dir, 'host.json');
    const nrt = readRun<RunFile>(dir, 'guest-nrt.json');
    const rt = readRun<RunFile>(dir, 'guest-rt.json');
    for (const run of [host, nrt, rt]) {
      expect(schemaProblems(run)).toBe('');
      expect(run.threads.map((thread) => thread.count)).toEqual(run.threads.map(() => 300));
    }
    const preemption = (run: RunFile) => (run.environment as Fingerprint).kernel.preemption.value;
    expect(preemption(rt)).toBe('PREEMPT_RT');
    expect(preemption(nrt)).not.toBe('PREEMPT_RT');
    expect((rt.environment as Fingerprint).kernel.release.value).toMatch(/-rt-amd64$/);
    for (const guest of [nrt, rt]) {
      expect((guest.environment as Fingerprint).virtualization.role).toBe('vm');
      expect(guest.guest!.emulated).toBe((guest.guest as RunQemuGuest).accelerator === 'tcg');
    }

    // The guests' rows come from the host's kernel (this machine's, in their hostEnvironment).
    const hostKind = hostKernelKind(rt);
    expect(hostKind).toMatch(/^N?RT$/);
    const table = readFileSync(path.join(dir, 'matrix.txt'), 'utf8');
    expect(outcome.stdout).toContain(table);
    const cell = (row: string) => new RegExp(`^${row.replace('/', '\\/')}\\s+.*\\d+\\.\\d`, 'm');
    expect(table).toMatch(cell(`${hostKind}/NRT`));
    expect(table).toMatch(cell(`${hostKind}/RT`));

    // The same table from rtlat compare, the host among them.
    const compare = rtlat(['compare', '--matrix', '--format', 'json', ...['host.json', 'guest-nrt.json', 'guest-rt.json'].map((file) => path.join(dir, file))]);
    expect(compare.status, compare.stderr).toBe(0);
    const matrix = JSON.parse(compare.stdout) as { columns: string[]; rows: { kernels: string; cells: ({ maxNs: number; runs: string[] } | null)[] }[] };
    const placed = matrix.rows.flatMap((row) => row.cells.flatMap((cellValue) => cellValue?.runs ?? []));
    expect(placed).toHaveLength(3);
    const worst = (kernelsRow: string) => matrix.rows.find((row) => row.kernels === kernelsRow)!.cells.find((cellValue) => cellValue !== null)!.maxNs;
    expect(worst(`${hostKind}/RT`)).toBe(rt.all.maxNs);
    expect(worst(`${hostKind}/NRT`)).toBe(nrt.all.maxNs);

    const report = readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(report).toMatch(/<svg/);
    expect(report).toContain('PREEMPT_RT');
  }, 600_000);

  itWithTool(guestTools, '--explain: the host and the guest each explain their own late wake-ups, in their output, run files and the report; --explain-host adds the host\'s side to the guest\'s', async () => {
    const dir = scratchDir();
    const outcome = await rtlatAsync(['matrix', '--kernels', `nrt=${kernels.nrt}`, '--loops', '300', '--period', '1ms', '--explain', '0', '--explain-max', '20', '--explain-host', '-o', dir]);
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(processesLeft()).toEqual([]);
    const host = readRun(dir, 'host.json');
    const guest = readRun(dir, 'guest-nrt.json');
    for (const run of [host, guest]) {
      expect(schemaProblems(run)).toBe('');
      // Every wake-up is above 0us: each thread explains its 20 largest.
      expect(run.explain!.selection).toMatchObject({ thresholdNs: 0, maxPerThread: 20 });
      expect(run.explain!.threads.map((thread) => thread.explained)).toEqual(run.threads.map(() => 20));
      expect(run.explain!.trace.perCpu.length).toBeGreaterThan(0);
    }
    // The host traced its own measured CPUs; the guest its one vCPU, inside.
    expect(host.guest).toBeNull();
    expect(host.explain!.trace.perCpu.map((cpu) => cpu.cpu)).toEqual(host.threads.map((thread) => thread.cpu));
    expect(guest.guest).not.toBeNull();
    expect(guest.explain!.trace.perCpu.map((cpu) => cpu.cpu)).toEqual([0]);
    // --explain-host: the host traced the guest's vCPU thread too, and said who kept it off its CPU.
    expect(host.explain!.hostTrace ?? null).toBeNull();
    expect(guest.explain!.hostTrace!.perCpu.reduce((events, cpu) => events + cpu.events, 0)).toBeGreaterThan(0);
    expect(guest.explain!.summary.host).toBeTruthy();
    expect(guest.explain!.wakeups.every((wakeup) => wakeup.host != null)).toBe(true);
    const sections = outcome.stdout.split(/^== /m);
    for (const name of ['host', 'guest nrt']) expect(sections.find((section) => section.startsWith(`${name}\n`))).toMatch(/^explain: \d+ wake-ups above 0\.0us/m);
    expect(sections.find((section) => section.startsWith('guest nrt\n'))).toMatch(/^explain \(host\): vCPU threads kept off their CPUs .* host trace events lost$/m);
    expect(sections.find((section) => section.startsWith('host\n'))).not.toContain('explain (host)');
    expect(readFileSync(path.join(dir, 'report.html'), 'utf8').match(/class="explain-parts"/g)).toHaveLength(2);
  }, 600_000);
});

describe('rtlat matrix with a container', () => {
  let restoreBudget = () => {};
  beforeAll(() => {
    if (podmanTools.skip) return;
    buildTestImage();
    restoreBudget = grantPodmanRtBudget();
  }, 900_000);
  afterAll(() => restoreBudget());

  itWithTool(podmanTools, 'measures the host and the container on the same CPU, with a load on the host during each', async () => {
    const dir = scratchDir();
    const engineArgs = sandboxEngineArgs().map((arg) => `--engine-arg=${arg}`);
    const outcome = await rtlatAsync(['matrix', '--container', TEST_IMAGE, ...engineArgs, '--cpus', '1', '--loops', '300', '--load', 'syscalls', '--load-cpus', '0', '-o', dir]);
    expect(outcome.status, outcome.stderr).toBe(0);
    const host = readRun(dir, 'host.json');
    const container = readRun(dir, 'container.json');
    for (const run of [host, container]) {
      expect(schemaProblems(run)).toBe('');
      expect(run.threads.map((thread) => thread.applied?.cpus)).toEqual([[1]]);
      expect(run.load?.spec).toBe('syscalls');
      expect(run.load?.generators[0]?.operations).toBeGreaterThan(0);
    }
    expect((container.environment as Fingerprint).virtualization.container).toBe(true);
    expect((host.environment as Fingerprint).virtualization.container).toBe(false);
    expect(readFileSync(path.join(dir, 'matrix.txt'), 'utf8')).toMatch(/container podman/);
    expect(existsSync(path.join(dir, 'report.html'))).toBe(true);
  }, 600_000);
});
