// `rtlat guest` booting Debian's cloud kernel under QEMU (TCG here: this machine's KVM cannot run a
// nested guest, which the probe boot finds out): a measurement with the research's options (pinned
// vCPU, QEMU at SCHED_FIFO, a load on the host) comes back as a run file that says vm and emulated;
// SIGINT stops it with its results, SIGKILL leaves no QEMU behind; bad input and a guest that does
// not come up fail in one line. The PREEMPT_RT kernel and the table are test/matrix.test.ts's.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Fingerprint } from '../src/fingerprint/index.js';
import type { RunFile, RunQemuGuest } from '../src/run-file/schema.js';
import { rtlat, RTLAT_BIN, scratchDir } from './helpers/cli.js';
import { schemaProblems } from './helpers/schema.js';
import { itWithTool } from './helpers/tools.js';
import { bootingGuests, guestTools, processesLeft, rtlatAsync } from './helpers/guest.js';

const BOOT_TEST_TIMEOUT_MS = 240_000;

function readGuestRun(file: string): RunFile {
  return JSON.parse(readFileSync(file, 'utf8')) as RunFile;
}

function expectOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^rtlat guest: /);
  expect(lines[0]).toMatch(pattern);
}

/** A file that passes the up-front kernel check (Linux's boot header, "HdrS" at 0x202) and boots nothing. */
function lookalikeKernel(): string {
  const file = path.join(scratchDir(), 'vmlinuz-lookalike');
  const image = Buffer.alloc(4096);
  image.write('HdrS', 0x202, 'latin1');
  writeFileSync(file, image);
  return file;
}

describe('rtlat guest: bad input, one line, exit 2, nothing booted', () => {
  const kernel = lookalikeKernel(); // these fail before a boot
  const emptyFile = path.join(scratchDir(), 'empty');
  writeFileSync(emptyFile, '');
  const cases: [string, string[], RegExp][] = [
    ['a missing kernel', ['--kernel', '/nonexistent/vmlinuz'], /--kernel: got "\/nonexistent\/vmlinuz", expected a bzImage kernel file such as \/boot\/vmlinuz-\* \(no such file\)$/],
    ['an empty kernel', ['--kernel', emptyFile], /--kernel: got ".*empty", expected a bzImage kernel file .* \(this file is empty\)$/],
    ['a device as the kernel', ['--kernel', '/dev/null'], /--kernel: got "\/dev\/null", expected a bzImage kernel file .* \(this is not a regular file\)$/],
    ['a file that is not a kernel', ['--kernel', process.execPath], /--kernel: got ".*", expected a bzImage kernel file .* \(this file has no Linux boot header\)$/],
    ['a QEMU that does not exist', ['--kernel', kernel, '--qemu', '/nonexistent/qemu-system-x86_64'], /--qemu: got "\/nonexistent\/qemu-system-x86_64", expected an executable QEMU, such as \/usr\/bin\/qemu-system-x86_64 \(no such file\)$/],
    ['a program that is not QEMU', ['--kernel', kernel, '--qemu', '/bin/true'], /--qemu: got "\/bin\/true", expected an executable QEMU, .* \(its --version does not say "QEMU emulator version"\)$/],
    ['main CPUs beyond the vCPUs', ['--kernel', kernel, '--cpus', '2', '--main-cpus', '2'], /--main-cpus: got "2", expected guest CPUs, from 0 to 1 \(the guest has --cpus 2\)$/],
    ['no kernel', [], /required option '--kernel <vmlinuz>' not specified/],
    ['too little memory', ['--kernel', kernel, '--memory', '5'], /--memory: got "5", expected a size from 128M/],
    ['a bad vCPU list', ['--kernel', kernel, '--pin-vcpus', 'x'], /--pin-vcpus: got "x", expected a CPU list/],
    ['priority 0', ['--kernel', kernel, '--qemu-priority', '0'], /--qemu-priority: got "0", expected a whole number from 1 to 99/],
    ['a bad measure option', ['--kernel', kernel, '--period', '0'], /--period: got "0", expected a duration/],
    ['--cpus as a list', ['--kernel', kernel, '--cpus', '0-1'], /--cpus: got "0-1", expected a whole number/],
    ['a bad load', ['--kernel', kernel, '--load', 'nothing'], /--load: got "nothing"/],
    ['more vCPUs than pinned CPUs at SCHED_FIFO', ['--kernel', kernel, '--cpus', '2', '--pin-vcpus', '1', '--qemu-priority', '1'], /--qemu-priority: got 1, expected a host CPU for each vCPU \(2 vCPUs on 1 CPUs/],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const outcome = rtlat(['guest', '--loops', '10', ...args]);
      expect(outcome.status).toBe(2);
      expectOneLine(outcome.stderr, message);
    });
  }
});

describe('rtlat guest without QEMU', () => {
  it('says how to get it, in one line, before anything is built', () => {
    const outcome = spawnSync(process.execPath, [RTLAT_BIN, 'guest', '--kernel', lookalikeKernel(), '--loops', '10'], { encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent' } });
    expect(outcome.status).toBe(1);
    expectOneLine(outcome.stderr, /qemu-system-x86_64 not found on PATH: install QEMU \(Debian: apt-get install qemu-system-x86\) or give --qemu$/);
  });
});

describe('rtlat guest booting a kernel', () => {
  // No QEMU (nor anything else these runs started) and no temporary file is left: only theirs are
  // looked at, not other QEMUs on this machine.
  const kernels = bootingGuests();

  itWithTool(guestTools, 'measures with a pinned vCPU, QEMU at SCHED_FIFO and a load on the host; the run file says vm, and emulated under TCG', async () => {
    const dir = scratchDir();
    const json = path.join(dir, 'guest.json');
    const hdrLog = path.join(dir, 'guest.hlog');
    const report = path.join(dir, 'guest.html');
    const outcome = await rtlatAsync([
      'guest', '--kernel', kernels.nrt, '--cpus', '1', '--pin-vcpus', '1', '--qemu-priority', '1', '--load', 'syscalls', '--load-cpus', '0',
      '--period', '1ms', '--loops', '300', '--main-cpus', '0', '--json', json, '--hdr-log', hdrLog, '--report', report,
    ]);
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(outcome.stdout).toMatch(/^all\s/m);

    const run = readGuestRun(json);
    expect(schemaProblems(run)).toBe('');
    expect(run.commandLine).toMatch(/^rtlat guest --kernel /);
    expect(run.all.count).toBe(300);
    expect(run.threads.map((thread) => thread.applied?.policy)).toEqual(['fifo']);
    // --main-cpus went into the guest (its CPU 0), as every measure option does.
    expect(run.config.mainCpus).toEqual([0]);
    const environment = run.environment as Fingerprint;
    expect(environment.virtualization.role).toBe('vm');
    expect(environment.kernel.release.value).toMatch(/-cloud-amd64$/);
    expect((run.hostEnvironment as Fingerprint).kernel.release.value).toBe(readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim());

    const guest = run.guest as RunQemuGuest;
    expect(guest.kernel).toEqual({ path: kernels.nrt, release: environment.kernel.release.value });
    expect([guest.vcpus, guest.vcpuCpus, guest.qemuPriority]).toEqual([1, [1], 1]);
    expect(guest.emulated).toBe(guest.accelerator === 'tcg');
    if (guest.emulated) {
      expect(environment.virtualization.technology.value).toBe('qemu-tcg');
      expect(outcome.stderr).toMatch(/EMULATED/);
    }
    expect(run.load?.spec).toBe('syscalls');
    expect(run.load?.cpus).toEqual([0]);
    expect(run.load?.generators[0]?.operations).toBeGreaterThan(0);

    // The report, written on the host, shows how the guest ran, and says EMULATED under TCG.
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('<h3>Guest</h3>');
    expect(html).toContain(`<dt>vCPUs</dt><dd>1, pinned to host CPU 1</dd>`);
    expect(html.includes('<span class="emulated">EMULATED</span>')).toBe(guest.emulated);

    const log = readFileSync(hdrLog, 'utf8');
    expect(log).toMatch(/^#\[Histogram log format version/m);
    expect(log).toMatch(/^Tag=cpu0,[\d.]+,[\d.]+,[\d.]+,HISTF/m);
  }, BOOT_TEST_TIMEOUT_MS);

  itWithTool(guestTools, 'decides between KVM and TCG with a probe boot, and says why', async () => {
    const dir = scratchDir();
    const json = path.join(dir, 'guest.json');
    const outcome = await rtlatAsync(['guest', '--kernel', kernels.nrt, '--loops', '50', '--json', json, '--quiet']);
    expect(outcome.status, outcome.stderr).toBe(0);
    const guest = readGuestRun(json).guest as RunQemuGuest;
    if (guest.accelerator === 'kvm') expect(guest.acceleratorReason).toBe('a KVM probe boot came up');
    else expect(guest.acceleratorReason).toMatch(/^(\/dev\/kvm is (absent|not accessible)|KVM does not work here: .+)/);
    // Even with --quiet.
    expect(outcome.stderr.includes('EMULATED')).toBe(guest.emulated);
  }, BOOT_TEST_TIMEOUT_MS);

  itWithTool(guestTools, 'stops at SIGINT once measuring and still brings the results back', async () => {
    const json = path.join(scratchDir(), 'guest.json');
    const outcome = await rtlatAsync(['guest', '--kernel', kernels.nrt, '--accel', 'tcg', '--duration', '1h', '--json', json], {
      stderr: /the guest is up/,
      signal: 'SIGINT',
    });
    expect(outcome.status, outcome.stderr).toBe(0);
    const run = readGuestRun(json);
    expect(run.stoppedBy).toBe('signal');
    expect(run.all.count).toBeGreaterThan(0);
  }, BOOT_TEST_TIMEOUT_MS);

  itWithTool(guestTools, 'leaves no QEMU and no files behind when killed with SIGKILL', async () => {
    const json = path.join(scratchDir(), 'guest.json');
    const outcome = await rtlatAsync(['guest', '--kernel', kernels.nrt, '--accel', 'tcg', '--duration', '1h', '--json', json], {
      stderr: /the guest is up/,
      signal: 'SIGKILL',
    });
    expect(outcome.status).toBeNull();
    expect(existsSync(json)).toBe(false);
    // QEMU's parent-death signal is delivered at once, but its exit takes a moment.
    for (let wait = 0; wait < 50 && processesLeft().length > 0; wait++) await new Promise((resolve) => setTimeout(resolve, 100));
  }, BOOT_TEST_TIMEOUT_MS);

  itWithTool(guestTools, 'gives up on a guest that does not come up in time, with the console\'s last lines', async () => {
    const outcome = await rtlatAsync(['guest', '--kernel', kernels.nrt, '--accel', 'tcg', '--boot-timeout', '1s', '--loops', '10']);
    expect(outcome.status).toBe(1);
    expectOneLine(outcome.stderr.replace(/^rtlat guest: booting .*\n/m, ''), /the guest did not come up within 1s under TCG; the console (printed nothing|'s last lines: .+)/);
  }, BOOT_TEST_TIMEOUT_MS);
});
