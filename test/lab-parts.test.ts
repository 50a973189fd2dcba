// The pieces of Xen guests and rtlat lab that need no hypervisor: the xl configuration, what xl prints,
// the domain naming that lets the next run remove a killed run's domain, which paths of the lab's command
// go in and come back, the lab marker in run files, Debian's dependency lists, kernel modules and their
// order, the kernel release in a bzImage, the lab's lines on the channel, and the CLI's refusals.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GuestChannel } from '../src/targets/guest/protocol.js';
import { labFromFingerprints, labMarker, labOf } from '../src/run-file/lab.js';
import type { RunFile } from '../src/run-file/schema.js';
import { kernelImageRelease } from '../src/targets/guest/kernel-image.js';
import { KernelModules, moduleDependencies } from '../src/targets/guest/modules.js';
import { parseDepends } from '../src/targets/lab/debian.js';
import { labArgsScript } from '../src/targets/lab/init.js';
import { commandInputs, commandLinePaths, isReturnable, MAX_INPUT_DIR_BYTES } from '../src/targets/lab/paths.js';
import type { LabHost } from '../src/targets/lab/hosts.js';
import { bootOf, stampRun } from '../src/targets/lab/run.js';
import { xlConfig, type XlConfigOptions } from '../src/targets/xen/config.js';
import { domainName, orphanedDomains, ownerOf } from '../src/targets/xen/domain.js';
import { parseVcpuList, parseXlInfo, parseXlList } from '../src/targets/xen/xl.js';
import { rtlat, scratchDir } from './helpers/cli.js';
import { fingerprintFor, range, runOf, threadOf } from './helpers/compare-runs.js';

describe('the xl configuration of a domU', () => {
  const base: XlConfigOptions = {
    name: 'rtlat-7-1-pv', type: 'pv', kernel: '/k/vmlinuz', ramdisk: '/r/initrd.cpio', commandLine: 'console=hvc0 quiet',
    memoryMiB: 512, vcpus: 2, pinVcpus: null, imageDisk: null, emulatedCpu: false,
  };
  const keys = (text: string) => Object.fromEntries(text.trimEnd().split('\n').map((line) => line.split(' = ', 2) as [string, string]));

  it('gives a PV guest its ramdisk and command line, and destroys it however it ends', () => {
    const config = keys(xlConfig(base));
    expect(config).toMatchObject({ name: '"rtlat-7-1-pv"', type: '"pv"', kernel: '"/k/vmlinuz"', ramdisk: '"/r/initrd.cpio"', extra: '"console=hvc0 quiet"', memory: '512', maxmem: '512', vcpus: '2' });
    expect([config.on_poweroff, config.on_reboot, config.on_crash]).toEqual(['"destroy"', '"destroy"', '"destroy"']);
    expect(config).not.toHaveProperty('cpus');
    expect(config).not.toHaveProperty('tsc_mode');
  });

  it('pins vCPU i to the i-th physical CPU, round-robin', () => {
    expect(keys(xlConfig({ ...base, vcpus: 3, pinVcpus: [2, 3] })).cpus).toBe('["2", "3", "2"]');
  });

  it('gives an HVM guest its device model, no display, and the image disk past the emulated IDE disks', () => {
    const config = keys(xlConfig({ ...base, type: 'hvm', imageDisk: '/r/image.cpio' }));
    expect(config).toMatchObject({ type: '"hvm"', cmdline: '"console=hvc0 quiet"', device_model_version: '"qemu-xen"', vga: '"none"', vnc: '0', serial: '"none"' });
    expect(config.disk).toBe('["format=raw,vdev=xvde,backendtype=qdisk,target=/r/image.cpio"]');
    expect(config).not.toHaveProperty('extra');
  });

  it('reads the TSC natively and hides XSAVE from PVH and HVM guests only when Xen runs on an emulated CPU', () => {
    expect(keys(xlConfig({ ...base, type: 'pvh', emulatedCpu: true }))).toMatchObject({ tsc_mode: '"native"', cpuid: '"host,xsave=0"' });
    expect(keys(xlConfig({ ...base, type: 'pvh' }))).not.toHaveProperty('tsc_mode');
    expect(keys(xlConfig({ ...base, emulatedCpu: true }))).not.toHaveProperty('tsc_mode');
  });

  it('refuses a value xl could not read back', () => {
    expect(() => xlConfig({ ...base, commandLine: 'a "quoted" arg' })).toThrow(/cannot hold quotes/);
  });
});

describe('what xl prints', () => {
  it('xl info: the version, scheduler, physical CPUs and command line', () => {
    const info = parseXlInfo(['host                   : lab', 'nr_cpus                : 2', 'xen_major              : 4', 'xen_minor              : 17',
      'xen_extra              : .7', 'xen_version            : 4.17.7', 'xen_scheduler          : credit2', 'xen_commandline        : console=com1 dom0_mem=1536M'].join('\n'));
    expect(info).toEqual({ version: '4.17.7', scheduler: 'credit2', pcpus: 2, commandLine: 'console=com1 dom0_mem=1536M' });
    expect(parseXlInfo('xen_major : 4\nxen_minor : 17\nxen_extra : .2-pre\n').version).toBe('4.17.2-pre');
  });

  it('xl vcpu-list: each vCPU of the domain asked for, its physical CPU and hard affinity', () => {
    const text = [
      'Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)',
      'Domain-0                             0     0    0   r--      20.9  all / all',
      'rtlat-9-1-pv                         3     1    -   --p       0.0  2-3 / all',
      'rtlat-9-1-pv                         3     0    1   -b-       1.2  1 / all',
    ].join('\n');
    expect(parseVcpuList(text, 'rtlat-9-1-pv')).toEqual([{ vcpu: 0, cpu: 1, hard: [1] }, { vcpu: 1, cpu: null, hard: [2, 3] }]);
    expect(parseVcpuList(text, 'Domain-0')).toEqual([{ vcpu: 0, cpu: 0, hard: null }]);
  });

  it('xl list: each domain by name and id', () => {
    const text = 'Name                                        ID   Mem VCPUs\tState\tTime(s)\nDomain-0                                     0  1024     1     r-----      19.9\nrtlat-1-2-pvh                                4   512     1     --p---       0.0\n';
    expect(parseXlList(text)).toEqual([{ name: 'Domain-0', id: 0 }, { name: 'rtlat-1-2-pvh', id: 4 }]);
  });
});

describe('domain names, and the domains a killed rtlat left', () => {
  it('names each domain after this rtlat, uniquely', () => {
    const first = domainName('hvm');
    expect(first).toMatch(new RegExp(`^rtlat-${process.pid}-\\d+-hvm$`));
    expect(domainName('hvm')).not.toBe(first);
    expect(ownerOf(first)).toBe(process.pid);
    expect(ownerOf('webserver')).toBeNull();
  });

  it('destroys only rtlat domains whose rtlat is gone, never this one\'s or another program\'s', () => {
    const running = new Set([200]);
    const names = ['Domain-0', 'webserver', 'rtlat-100-1-pv', 'rtlat-200-1-pvh', `rtlat-${process.pid}-1-hvm`, 'rtlat-x-1-pv'];
    expect(orphanedDomains(names, (pid) => running.has(pid))).toEqual(['rtlat-100-1-pv']);
  });
});

describe('the lab command\'s paths', () => {
  const cwd = '/work/here';

  it('takes paths from arguments, --option=value, comma lists, LABEL=PATH and HOST:GUEST, relative ones from the working folder', () => {
    const args = ['matrix', '--kernels', 'nrt=/k/cloud,rt=k/rt', '--json=out.json', '-o', 'results/', '--initrd-extra', '/x/y:/guest/y', '--period', '1ms', '--kernel-args', 'isolcpus=1 nohz_full=1'];
    const paths = commandLinePaths(args, cwd);
    for (const expected of ['/k/cloud', '/work/here/k/rt', '/work/here/out.json', '/work/here/results', '/x/y', '/work/here/1ms']) expect(paths).toContain(expected);
    // Words with spaces are not paths; the lab host's own system folders are never taken.
    expect(paths.some((candidate) => candidate.includes(' '))).toBe(false);
    expect(commandLinePaths(['--x=/proc/cmdline', '/', '/sys', '/dev/null', '/run/x'], cwd)).toEqual([]);
  });

  it('copies in what exists here, files and small folders, and refuses a large folder', () => {
    const dir = scratchDir();
    writeFileSync(path.join(dir, 'kernel'), 'k');
    mkdirSync(path.join(dir, 'modules'));
    writeFileSync(path.join(dir, 'modules', 'a.ko'), 'a');
    const inputs = commandInputs([path.join(dir, 'kernel'), path.join(dir, 'modules'), path.join(dir, 'missing')]);
    expect(inputs).toEqual([{ path: path.join(dir, 'kernel'), kind: 'file' }, { path: path.join(dir, 'modules'), kind: 'directory' }]);
    const big = path.join(dir, 'big');
    mkdirSync(big);
    writeFileSync(path.join(big, 'blob'), Buffer.alloc(MAX_INPUT_DIR_BYTES + 1));
    expect(() => commandInputs([big])).toThrow(/holds more than 64 MB: too much to copy into the lab host/);
  });

  it('writes back only files at those paths or inside them', () => {
    const candidates = ['/work/here/results', '/work/here/out.json'];
    expect(isReturnable('/work/here/results/host.json', candidates)).toBe(true);
    expect(isReturnable('/work/here/out.json', candidates)).toBe(true);
    expect(isReturnable('/work/here/resultsX/host.json', candidates)).toBe(false);
    expect(isReturnable('/work/here/results/../../etc/passwd', candidates)).toBe(false);
    expect(isReturnable('/etc/passwd', candidates)).toBe(false);
  });

  it('quotes the working folder and the arguments for the lab host\'s shell', () => {
    expect(labArgsScript("/a b/it's", ['guest', '--kernel-args', 'a b'])).toBe("cwd='/a b/it'\\''s'\nset -- 'guest' '--kernel-args' 'a b'\n");
  });
});

describe('the lab marker in run files', () => {
  const dom0 = fingerprintFor('bare metal', 'NRT');
  dom0.kernel.commandLine = { value: 'console=hvc0 quiet rtlat.lab=xen/tcg', source: '/proc/cmdline' };
  const guest = fingerprintFor('xen', 'NRT');
  const thread = threadOf(0, range(1_000, 2_000, 100));

  it('reads rtlat.lab= off a kernel command line', () => {
    expect(labMarker('quiet rtlat.lab=kvm/tcg panic=-1')).toEqual({ host: 'kvm', accelerator: 'tcg' });
    expect(labMarker('rtlat.lab=xen/tcg')).toEqual({ host: 'xen', accelerator: 'tcg' });
    expect(labMarker('rtlat.lab=vmware/tcg')).toBeNull();
    expect(labMarker(null)).toBeNull();
  });

  it('says how deep a run was: in the lab host itself, or in a guest of it', () => {
    const inDom0 = runOf([thread], { environment: dom0 });
    const inDomU = runOf([thread], { environment: guest, hostEnvironment: dom0 });
    const elsewhere = runOf([thread], { environment: guest });
    expect(labFromFingerprints(inDom0)?.nesting).toBe('lab xen/tcg > dom0');
    expect(labFromFingerprints(inDomU)).toEqual({ host: 'xen', accelerator: 'tcg', emulated: true, nesting: 'lab xen/tcg > domU pvh', description: null });
    expect(labFromFingerprints(elsewhere)).toBeNull();
    expect(labOf({ ...elsewhere, lab: { host: 'kvm', accelerator: 'tcg', emulated: true, nesting: 'lab kvm/tcg > guest kvm', description: 'x' } })?.nesting).toBe('lab kvm/tcg > guest kvm');
  });

  it('is written into every run file the lab brings back, even one whose fingerprints do not say', () => {
    const lab = { host: 'xen' as const, accelerator: 'tcg' as const, description: 'Xen 4.17 with a Dom0', packages: {} };
    expect(stampRun(runOf([thread], { environment: guest, hostEnvironment: dom0 }), lab).lab).toEqual({ host: 'xen', accelerator: 'tcg', emulated: true, nesting: 'lab xen/tcg > domU pvh', description: 'Xen 4.17 with a Dom0' });
    expect(stampRun(runOf([thread]) as RunFile, lab).lab?.nesting).toBe('lab xen/tcg');
  });
});

describe('Debian dependencies', () => {
  it('lists each package\'s Depends, the first of alternatives, without virtual packages', () => {
    const text = ['xen-utils-4.17', '  Depends: libc6', '  Depends: <python3:any>', '    python3', '  Depends: libxenstore4', ' |Depends: libyajl2', '  Depends: libyajl-other', '  Recommends: qemu-system-xen', 'seabios', '  Depends: libfoo1:any'].join('\n');
    expect(parseDepends(text)).toEqual(new Map([['xen-utils-4.17', ['libc6', 'libxenstore4', 'libyajl2']], ['seabios', ['libfoo1']]]));
  });
});

describe('kernel modules', () => {
  function moduleFile(dir: string, relative: string, depends: string): string {
    const file = path.join(dir, 'kernel', relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, Buffer.concat([Buffer.from('\x7fELF....'), Buffer.from(`\0license=GPL\0depends=${depends}\0name=${path.basename(file, '.ko').replace(/-/g, '_')}\0`)]));
    return file;
  }

  it('loads each module after those it depends on, and leaves out built-in ones', () => {
    const dir = scratchDir();
    const kvmAmd = moduleFile(dir, 'arch/x86/kvm/kvm-amd.ko', 'kvm,ccp');
    const kvm = moduleFile(dir, 'arch/x86/kvm/kvm.ko', 'irqbypass');
    const irqbypass = moduleFile(dir, 'virt/lib/irqbypass.ko', '');
    writeFileSync(path.join(dir, 'modules.builtin'), 'kernel/drivers/crypto/ccp/ccp.ko\nkernel/drivers/block/xen-blkfront.ko\n');
    const modules = new KernelModules(dir);
    expect(modules.loadOrder(['kvm-amd'])).toEqual([irqbypass, kvm, kvmAmd]);
    expect(modules.has('xen-blkfront')).toBe(true);
    expect(modules.loadOrder(['xen-blkfront'])).toEqual([]);
    expect(modules.has('virtio_blk')).toBe(false);
    expect(() => modules.loadOrder(['virtio_blk'])).toThrow(/has no module virtio_blk, and the kernel does not have it built in/);
    expect(moduleDependencies(Buffer.from('\0depends=\0'))).toEqual([]);
  });

  it('reads a bzImage\'s release from its boot header, and nothing from another file', () => {
    const dir = scratchDir();
    const image = Buffer.alloc(0x400);
    image.write('HdrS', 0x202, 'latin1');
    image.writeUInt16LE(0x100, 0x20e);
    image.write('6.1.0-57-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP\0', 0x300, 'latin1');
    writeFileSync(path.join(dir, 'vmlinuz'), image);
    writeFileSync(path.join(dir, 'other'), Buffer.alloc(0x400));
    expect(kernelImageRelease(path.join(dir, 'vmlinuz'))).toBe('6.1.0-57-cloud-amd64');
    expect(kernelImageRelease(path.join(dir, 'other'))).toBeNull();
  });
});

describe('how QEMU boots a lab host under TCG', () => {
  const host = (kind: 'xen' | 'kvm'): LabHost => ({ kind, description: kind, packages: {}, kernel: `/lab/${kind}`, linuxKernel: '/lab/vmlinuz', entries: [], setup: '', path: [] });

  it('gives Xen a CPU without XSAVE (which damaged memory under Dom0 load) and smap=0, KVM the whole max CPU', () => {
    const xen = bootOf(host('xen'), '/lab/initrd', 'tcg', 3072);
    expect(xen.cpu).toBe('max,-xsave');
    expect(xen.commandLine.split(' ')).toEqual(expect.arrayContaining(['smap=0', 'dom0_mem=1536M,max:1536M']));
    expect(bootOf(host('kvm'), '/lab/initrd', 'tcg', 3072).cpu).toBe('max');
    expect(bootOf(host('xen'), '/lab/initrd', 'kvm', 3072)).toMatchObject({ cpu: 'host', commandLine: expect.not.stringContaining('smap=0') });
  });
});

describe('a lab host on the channel', () => {
  it('passes on the command\'s stderr lines as they were, what is left running, and files by their paths', () => {
    const stderr: string[] = [];
    const left: string[] = [];
    const channel = new GuestChannel({ onStderr: (line) => stderr.push(line), onLeft: (what) => left.push(what) });
    const data = Buffer.from('{"a":1}\n');
    channel.push('(XEN) noise\r\nRTLAT-ERR rtlat guest:   spaced  out\r\nRTLAT-LEFT domain rtlat-9-1-pv\n');
    const gzipped = gzipSync(data);
    channel.push(`RTLAT-FILE ${gzipped.length} /a b/run.json\n${gzipped.toString('base64')}\nRTLAT-END /a b/run.json\nRTLAT-EXIT 137\n`);
    expect(stderr).toEqual(['rtlat guest:   spaced  out']);
    expect(left).toEqual(['domain rtlat-9-1-pv']);
    expect(channel.report?.status).toBe(137);
    expect(channel.report?.files['/a b/run.json']?.equals(data)).toBe(true);
  });
});

/** A file with a bzImage's boot header, which is all the options' checks look at. */
function fakeKernel(): string {
  const image = Buffer.alloc(0x400);
  image.write('HdrS', 0x202, 'latin1');
  const file = path.join(scratchDir(), 'vmlinuz');
  writeFileSync(file, image);
  return file;
}

describe('rtlat guest --hypervisor xen and rtlat lab: bad input, one line, exit 2', () => {
  const kernel = fakeKernel();
  const cases: [string, string[], RegExp][] = [
    ['xen without a type', ['guest', '--kernel', kernel, '--hypervisor', 'xen'], /^rtlat guest: --hypervisor xen needs --xen-type pv, pvh or hvm$/],
    ['a type without xen', ['guest', '--kernel', kernel, '--xen-type', 'pv'], /^rtlat guest: --xen-type is for Xen guests: give --hypervisor xen too$/],
    ['an unknown type', ['guest', '--kernel', kernel, '--hypervisor', 'xen', '--xen-type', 'hvmx'], /--xen-type.*hvmx.*pv, pvh, hvm/],
    ['--accel for xen', ['guest', '--kernel', kernel, '--hypervisor', 'xen', '--xen-type', 'pv', '--accel', 'kvm'], /--accel is for QEMU's guests/],
    ['--kernel-modules for QEMU', ['guest', '--kernel', kernel, '--kernel-modules', '/lib/modules/x'], /--kernel-modules is for Xen HVM guests/],
    ['matrix --xen-types without xen', ['matrix', '-o', '/tmp', '--kernels', `a=${kernel}`, '--xen-types', 'pv'], /--xen-types is for Xen guests/],
    ['matrix with a bad type', ['matrix', '-o', '/tmp', '--kernels', `a=${kernel}`, '--hypervisor', 'xen', '--xen-types', 'pv,pv'], /--xen-types: got "pv,pv", expected distinct Xen guest types/],
    ['matrix --with-and-without-load without --load', ['matrix', '-o', '/tmp', '--kernels', `a=${kernel}`, '--with-and-without-load'], /--with-and-without-load measures each step with --load and without it: give --load/],
    ['a lab without a command', ['lab', '--host', 'xen'], /missing required argument 'command'/],
    ['a lab of an unknown kind', ['lab', '--host', 'vmware', '--', 'info'], /--host.*vmware.*xen, kvm/],
    ['a lab in a lab', ['lab', '--host', 'xen', '--', 'lab', '--host', 'kvm', '--', 'info'], /a lab inside a lab is not supported/],
    ['a lab too small', ['lab', '--host', 'kvm', '--memory', '1G', '--', 'info'], /--memory: got "1G", expected at least 2G for a lab host/],
    ['--explain-host for a domU', ['guest', '--kernel', kernel, '--hypervisor', 'xen', '--xen-type', 'pvh', '--explain-host'], /^rtlat guest: --explain-host traces the host's vCPU threads, and a Xen domU has none: Xen schedules its vCPUs/],
    ['a device model\'s priority for PV', ['guest', '--kernel', kernel, '--hypervisor', 'xen', '--xen-type', 'pv', '--qemu-priority', '99'], /--qemu-priority: got 99, expected an HVM guest \(--xen-type hvm\): PV and PVH guests have no device model/],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const outcome = rtlat(args[0] === 'lab' ? args : [...args, '--loops', '10']);
      expect(outcome.status, outcome.stderr).toBe(2);
      const lines = outcome.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    });
  }

  it('says, in one line, that Xen guests are made from Dom0, and how to try one without it', () => {
    const outcome = rtlat(['guest', '--kernel', kernel, '--hypervisor', 'xen', '--xen-type', 'pv', '--loops', '10']);
    expect(outcome.status).toBe(1);
    expect(outcome.stderr).toMatch(/^rtlat guest: --hypervisor xen runs in Xen's Dom0, and this is not a Xen host .*rtlat lab --host xen\n$/);
  });
});
