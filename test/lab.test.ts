// Both of the research's hypervisors, emulated under QEMU's TCG by rtlat lab: a Xen host with a Dom0 that
// runs PV, PVH and HVM domUs, and a KVM host that runs a guest under KVM. Each test is one lab boot
// running one rtlat command; the checks are on what comes back: the run files (fingerprints, guest and
// lab blocks, priorities and pinning read back), counts of wake-ups (never a latency value), what is
// left running after SIGINT, SIGTERM and SIGKILL, and the research's tables from rtlat compare --matrix.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect } from 'vitest';
import type { Fingerprint } from '../src/fingerprint/index.js';
import type { RunFile, RunQemuGuest, RunXenGuest } from '../src/run-file/schema.js';
import { rtlat, scratchDir } from './helpers/cli.js';
import { writeRuns } from './helpers/compare-runs.js';
import { guestTemporaryFiles, processesLeftAfterAMoment, rtlatAsync, testKernels, type TestKernels } from './helpers/guest.js';
import { labTools, modulesOf } from './helpers/lab.js';
import { schemaProblems } from './helpers/schema.js';
import { itWithTool } from './helpers/tools.js';

/** One lab boot with its guests, on a 2-core machine under TCG: minutes, not seconds. */
const LAB_TEST_TIMEOUT_MS = 900_000;
const LAB_RUN_TIMEOUT_MS = 840_000;
const XEN = ['lab', '--host', 'xen', '--accel', 'tcg', '--'];
const KVM = ['lab', '--host', 'kvm', '--accel', 'tcg', '--'];
/** Short runs at 1 ms: enough wake-ups to count, little time. */
const MEASURE = ['--period', '1ms', '--memory', '512M'];
const NOTHING_LEFT = /rtlat lab: nothing of the command was left running in the lab host/;

function readRun(file: string): RunFile {
  return JSON.parse(readFileSync(file, 'utf8')) as RunFile;
}

const fingerprint = (value: unknown) => value as Fingerprint;

/** The runs the tests brought back, by name, for the research's tables at the end. */
const collected: Record<string, RunFile> = {};

/** What every run from a Xen domU of the lab says. */
function expectXenDomU(run: RunFile, type: 'pv' | 'pvh' | 'hvm'): RunXenGuest {
  expect(schemaProblems(run)).toBe('');
  const guest = fingerprint(run.environment);
  expect(guest.virtualization.hypervisor.value).toBe('xen');
  expect(guest.virtualization.xenGuestType).toEqual({ value: type, source: '/sys/hypervisor/guest_type' });
  expect(guest.virtualization.xenDomain?.value).toBe('domU');
  // Linux's xen clockevent, and the timer slop it brings.
  expect(guest.timing.clockevent.value).toBe('xen');
  expect(guest.timing.xenTimerSlopNs.value).toBe(100_000);
  expect((guest.timing.xenTimerSlopNs as { source: string }).source).toMatch(/TIMER_SLOP/);
  const dom0 = fingerprint(run.hostEnvironment);
  expect(dom0.virtualization.xenDomain).toEqual({ value: 'dom0', source: '/proc/xen/capabilities: control_d' });
  const info = run.guest as RunXenGuest;
  expect([info.hypervisor, info.type, info.emulated]).toEqual(['xen', type, true]);
  expect(info.xen.version).toMatch(/^4\.\d+/);
  expect(info.xen.scheduler).toBe('credit2');
  expect(run.lab).toMatchObject({ host: 'xen', accelerator: 'tcg', emulated: true, nesting: `lab xen/tcg > domU ${type}` });
  return info;
}

/** A run measured with --explain 0 --explain-max 50 explained the 50 largest latencies of each thread from a trace of its own kernel. */
function expectExplained(run: RunFile): void {
  const explain = run.explain!;
  expect(explain.threads.map((thread) => thread.explained)).toEqual(run.threads.map(() => 50));
  expect(explain.trace.perCpu.reduce((events, cpu) => events + cpu.events, 0)).toBeGreaterThan(0);
}

// Nothing rtlat lab started runs on after it (QEMU above all), whatever its end, and no temporary file
// stays: only the processes these runs started are looked at, not other QEMUs on this machine.
afterEach(async () => {
  expect(await processesLeftAfterAMoment()).toEqual([]);
  expect(guestTemporaryFiles()).toEqual([]);
});

describe('rtlat lab --host xen: Xen 4.17 with a Dom0 under TCG', () => {
  let kernels: TestKernels;
  const dir = scratchDir();
  beforeAll(() => {
    if (!labTools.skip) kernels = testKernels();
  }, 300_000);

  // Debian's PREEMPT_RT kernel does not come up as a PV domU here (nothing on its console in minutes): PVH
  // guests take both kernels, the PV guests below the cloud kernel.
  itWithTool(labTools, 'runs PVH domUs of each kernel pinned to a physical CPU; the runs say xen, the type, Dom0 and the Xen version; --explain explains in Dom0 and in each domU', async () => {
    const out = path.join(dir, 'types');
    const outcome = await rtlatAsync([...XEN, 'matrix', '--hypervisor', 'xen', '--xen-types', 'pvh', '--kernels', kernels.spec, '--pin-vcpus', '1', ...MEASURE, '--duration', '2s', '--explain', '0', '--explain-max', '50', '-o', out], undefined, LAB_RUN_TIMEOUT_MS);
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(outcome.stderr).toMatch(/rtlat lab: booting a lab host, Xen 4\.\d+ with a Dom0 .* under TCG .*EMULATED/);
    expect(outcome.stderr).toMatch(NOTHING_LEFT);
    for (const type of ['pvh'] as const) {
      for (const kernel of ['nrt', 'rt'] as const) {
        const run = readRun(path.join(out, `xen-${type}-${kernel}.json`));
        collected[`xen-${type}-${kernel}`] = run;
        const info = expectXenDomU(run, type);
        expect(info.vcpuCpus).toEqual([1]);
        expect(info.deviceModel).toBeNull();
        expect(info.kernel.release).toMatch(kernel === 'rt' ? /-rt-amd64$/ : /-cloud-amd64$/);
        expect(fingerprint(run.environment).kernel.preemption.value === 'PREEMPT_RT').toBe(kernel === 'rt');
        expect(run.all.count).toBeGreaterThan(0);
        expectExplained(run);
      }
    }
    // Dom0 itself, measured as the matrix's host.
    const dom0 = readRun(path.join(out, 'host.json'));
    expect(schemaProblems(dom0)).toBe('');
    expect(fingerprint(dom0.environment).virtualization.xenDomain?.value).toBe('dom0');
    expect(dom0.lab?.nesting).toBe('lab xen/tcg > dom0');
    expectExplained(dom0);
    expect(readFileSync(path.join(out, 'matrix.txt'), 'utf8')).toMatch(/xen dom0\*\s+xen pvh\*/);
  }, LAB_TEST_TIMEOUT_MS);

  itWithTool(labTools, 'with Dom0 load pinned on the domU\'s physical CPU, the domU wakes fewer times in the same time than without', async () => {
    const out = path.join(dir, 'load');
    const outcome = await rtlatAsync(
      [...XEN, 'matrix', '--hypervisor', 'xen', '--xen-types', 'pv', '--kernels', `nrt=${kernels.nrt}`, '--with-and-without-load', '--load', 'memory', '--load-cpus', '1', '--pin-vcpus', '1', ...MEASURE, '--duration', '3s', '-o', out],
      undefined,
      LAB_RUN_TIMEOUT_MS,
    );
    expect(outcome.status, outcome.stderr).toBe(0);
    const quiet = readRun(path.join(out, 'xen-pv-nrt.json'));
    const loaded = readRun(path.join(out, 'xen-pv-nrt-load.json'));
    Object.assign(collected, { 'xen-pv-nrt': quiet, 'xen-pv-nrt-load': loaded });
    for (const run of [quiet, loaded]) expectXenDomU(run, 'pv');
    expect(quiet.load).toBeNull();
    expect(loaded.load?.spec).toBe('memory');
    expect(loaded.load?.generators[0]?.operations).toBeGreaterThan(0);
    expect((loaded.guest as RunXenGuest).dom0LoadCpus).toEqual([{ vcpu: 0, pcpu: 1 }]);
    // The same 3 s at 1 ms: a count, not a latency.
    expect([quiet.config.durationNs, loaded.config.durationNs]).toEqual([3e9, 3e9]);
    expect(loaded.all.count).toBeLessThan(quiet.all.count);
    expect(readFileSync(path.join(out, 'matrix.txt'), 'utf8')).toMatch(/xen pv, no stress\*\s+xen pv, stress\*/);
    // Each twin's progress says which it is, the guest's own lines too.
    expect(outcome.stderr).toMatch(/^rtlat matrix: xen pv nrt: the guest is up /m);
    expect(outcome.stderr).toMatch(/^rtlat matrix: xen pv nrt with load: the guest is up /m);
  }, LAB_TEST_TIMEOUT_MS);

  itWithTool(labTools, 'runs an HVM domU with its device model\'s threads at SCHED_FIFO (chrt -p read back); SIGINT stops it with its results and leaves nothing running', async () => {
    const json = path.join(dir, 'hvm.json');
    const outcome = await rtlatAsync(
      [...XEN, 'guest', '--hypervisor', 'xen', '--xen-type', 'hvm', '--kernel', kernels.nrt, '--kernel-modules', modulesOf(kernels.nrt), '--qemu-priority', '1', '--pin-vcpus', '1', ...MEASURE, '--duration', '1h', '--boot-timeout', '10m', '--json', json],
      { stderr: /rtlat guest: the guest is up/, signal: 'SIGINT' },
      LAB_RUN_TIMEOUT_MS,
    );
    expect(outcome.status, outcome.stderr).toBe(0);
    // No domU nor device model in the lab host, and no QEMU here.
    expect(outcome.stderr).toMatch(NOTHING_LEFT);
    expect(await processesLeftAfterAMoment()).toEqual([]);
    const run = readRun(json);
    collected['xen-hvm-nrt'] = run;
    const info = expectXenDomU(run, 'hvm');
    expect(run.stoppedBy).toBe('signal');
    expect(run.all.count).toBeGreaterThan(0);
    expect(info.image).toBe('disk');
    expect(info.deviceModel?.priority).toBe(1);
    expect(info.deviceModel?.threads.length).toBeGreaterThan(1);
    for (const thread of info.deviceModel!.threads) expect([thread.policy, thread.priority], `${thread.name} ${thread.tid}`).toEqual(['fifo', 1]);
  }, LAB_TEST_TIMEOUT_MS);

  itWithTool(labTools, 'SIGTERM to rtlat lab stops a PV domU\'s run with its results, as SIGINT does, and leaves nothing running', async () => {
    const json = path.join(dir, 'terminated.json');
    const outcome = await rtlatAsync(
      [...XEN, 'guest', '--hypervisor', 'xen', '--xen-type', 'pv', '--kernel', kernels.nrt, '--pin-vcpus', '1', ...MEASURE, '--duration', '1h', '--json', json],
      { stderr: /rtlat guest: the guest is up/, signal: 'SIGTERM' },
      LAB_RUN_TIMEOUT_MS,
    );
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(outcome.stderr).toMatch(/rtlat lab: passing SIGTERM on to the command \(a second signal kills it\)/);
    expect(outcome.stderr).toMatch(NOTHING_LEFT);
    expect(await processesLeftAfterAMoment()).toEqual([]);
    const run = readRun(json);
    const info = expectXenDomU(run, 'pv');
    expect(info.vcpuCpus).toEqual([1]);
    expect(run.stoppedBy).toBe('signal');
    expect(run.all.count).toBeGreaterThan(0);
  }, LAB_TEST_TIMEOUT_MS);

  itWithTool(labTools, 'destroys the domU when rtlat guest in Dom0 is killed with SIGKILL (its watchdog), and leaves no QEMU', async () => {
    const json = path.join(dir, 'killed.json');
    // A second SIGINT to rtlat lab kills the command in the lab host with SIGKILL.
    const outcome = await rtlatAsync(
      [...XEN, 'guest', '--hypervisor', 'xen', '--xen-type', 'pv', '--kernel', kernels.nrt, ...MEASURE, '--duration', '1h', '--json', json],
      [
        { stderr: /rtlat guest: the guest is up/, signal: 'SIGINT' },
        { stderr: /rtlat lab: passing SIGINT on to the command \(a second signal kills it\)/, signal: 'SIGINT' },
      ],
      LAB_RUN_TIMEOUT_MS,
    );
    expect(outcome.status, outcome.stderr).toBe(137);
    expect(outcome.stderr).toMatch(/rtlat lab: killing the command \(SIGKILL\)/);
    expect(outcome.stderr).toMatch(/rtlat guest: rtlat \(pid \d+\) ended without destroying domain rtlat-\d+-1-pv: destroying it/);
    expect(outcome.stderr).toMatch(NOTHING_LEFT);
    expect(await processesLeftAfterAMoment()).toEqual([]);
    expect(existsSync(json)).toBe(false);
  }, LAB_TEST_TIMEOUT_MS);

  itWithTool(labTools, 'leaves no QEMU when rtlat lab itself is killed with SIGKILL', async () => {
    const outcome = await rtlatAsync([...XEN, 'info'], { stderr: /rtlat lab: the lab host is up/, signal: 'SIGKILL' }, LAB_RUN_TIMEOUT_MS);
    expect(outcome.status).toBeNull();
    expect(await processesLeftAfterAMoment()).toEqual([]);
  }, LAB_TEST_TIMEOUT_MS);
});

describe('rtlat lab --host kvm: Linux with KVM under TCG', () => {
  let kernels: TestKernels;
  beforeAll(() => {
    if (!labTools.skip) kernels = testKernels();
  }, 300_000);

  itWithTool(labTools, 'rtlat guest --accel kvm boots under KVM after a probe boot, with its vCPU pinned and at SCHED_FIFO (taskset -p and chrt -p read back); --explain-host reads KVM\'s exits', async () => {
    const json = path.join(scratchDir(), 'kvm.json');
    const outcome = await rtlatAsync(
      [...KVM, 'guest', '--accel', 'kvm', '--kernel', kernels.nrt, '--cpus', '1', '--pin-vcpus', '1', '--qemu-priority', '1', ...MEASURE, '--duration', '2s', '--explain-host', '--json', json],
      undefined,
      LAB_RUN_TIMEOUT_MS,
    );
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(outcome.stderr).toMatch(/rtlat guest: booting under KVM \(KVM was asked for \(--accel kvm\) and a probe boot came up\)/);
    expect(outcome.stderr).toMatch(NOTHING_LEFT);
    const run = readRun(json);
    collected['kvm-nrt'] = run;
    expect(schemaProblems(run)).toBe('');
    const info = run.guest as RunQemuGuest;
    expect([info.accelerator, info.emulated, info.vcpuCpus, info.qemuPriority]).toEqual(['kvm', false, [1], 1]);
    const vcpu = info.threads?.find((thread) => thread.vcpu === 0);
    expect(vcpu).toMatchObject({ name: 'CPU 0/KVM', cpus: [1], policy: 'fifo', priority: 1 });
    expect(fingerprint(run.environment).virtualization.technology.value).toBe('kvm');
    expect(fingerprint(run.environment).timing.clocksource.value).toBe('kvm-clock');
    expect(run.lab).toMatchObject({ host: 'kvm', accelerator: 'tcg', emulated: true, nesting: 'lab kvm/tcg > guest kvm' });
    expect(run.all.count).toBeGreaterThan(0);
    // The lab host traced the vCPU thread's CPU with kvm:kvm_exit and kvm_entry: each explained wake-up has
    // its time outside the guest (null where those events are not traced), and some its exit reasons.
    const explain = run.explain!;
    expect(explain.wakeups.length).toBeGreaterThan(0);
    expect(explain.hostTrace!.perCpu.map((cpu) => cpu.cpu)).toEqual([1]);
    expect(explain.hostTrace!.perCpu[0]!.events).toBeGreaterThan(0);
    for (const wakeup of explain.wakeups) expect([wakeup.host!.vcpuTid, wakeup.host!.outsideGuestNs === null]).toEqual([vcpu!.tid, false]);
    expect(explain.wakeups.some((wakeup) => wakeup.host!.exitReasons.length > 0)).toBe(true);
    expect(outcome.stdout).toContain('explain (host): vCPU threads kept off their CPUs');
  }, LAB_TEST_TIMEOUT_MS);
});

describe('rtlat compare --matrix over the lab\'s runs', () => {
  itWithTool(labTools, 'lays them out as the research did: guest kernel by PV, PVH, HVM and KVM, stress and no stress, every column marked emulated', () => {
    const names = ['xen-pvh-nrt', 'xen-pvh-rt', 'xen-pv-nrt', 'xen-pv-nrt-load', 'xen-hvm-nrt', 'kvm-nrt'];
    const missing = names.filter((name) => !(name in collected));
    expect(missing, 'runs an earlier test of this file should have brought back').toEqual([]);
    const files = writeRuns(scratchDir(), Object.fromEntries(names.map((name) => [name, collected[name]!])));
    const outcome = rtlat(['compare', '--matrix', ...files]);
    expect(outcome.status, outcome.stderr).toBe(0);
    const lines = outcome.stdout.split('\n');
    const header = lines.find((line) => line.startsWith('host/guest kernel'))!;
    const columns = header.split(/\s{2,}/).slice(1);
    expect(columns).toEqual(['xen pvh, no stress*', 'xen pv, no stress*', 'xen pv, stress*', 'xen hvm, no stress*', 'kvm, no stress*']);
    // Dom0's and the KVM host's kernels are Debian's generic one: NRT hosts. The PVH guest ran both kernels.
    const row = (kernels: string) => lines.find((line) => line.startsWith(`${kernels} `))!.split(/\s{2,}/).slice(1);
    expect(row('NRT/NRT').every((cell) => /^\d+\.\d$/.test(cell))).toBe(true);
    expect(row('NRT/RT').map((cell) => cell !== '-')).toEqual([true, false, false, false, false]);
    expect(outcome.stdout).toMatch(/\* EMULATED: measured in an rtlat lab host \(lab xen\/tcg > domU pvh; lab xen\/tcg > domU pv; lab xen\/tcg > domU hvm; lab kvm\/tcg > guest kvm\)/);
    expect(outcome.stdout).toMatch(/stress: the load on the host \(Xen: in Dom0\) while measuring: memory/);
    const json = JSON.parse(rtlat(['compare', '--matrix', '--format', 'json', ...files]).stdout) as { rows: { kernels: string; cells: ({ maxNs: number } | null)[] }[] };
    expect(json.rows.find((entry) => entry.kernels === 'NRT/RT')!.cells[0]!.maxNs).toBe(collected['xen-pvh-rt']!.all.maxNs);
  });
});
