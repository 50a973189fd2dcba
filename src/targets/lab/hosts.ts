// The two kinds of lab host, and what each is made of. A Xen host: Debian's Xen hypervisor booted by
// QEMU as a multiboot kernel, with Debian's generic kernel as Dom0 (the cloud kernel has no Dom0 support),
// the Xen tools, the HVM device model (qemu-system-xen) and its firmware. A KVM host: the same generic
// kernel with its kvm modules and this machine's own qemu-system-x86_64. Both get busybox, this Node and
// rtlat, and the tools rtlat calls (util-linux's chrt, taskset, setpriv; ldd, which is a bash script).
// Packages come from Debian (debian.ts); what this machine has installed is taken from it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../outputs/atomic-file.js';
import { findExecutable, hostFile, sharedLibraries, treeEntries, type GuestFile } from '../guest/contents.js';
import { KernelModules } from '../guest/modules.js';
import type { DebianCache, DebianPackage } from './debian.js';

export const LAB_HOST_KINDS = ['xen', 'kvm'] as const;
export type LabHostKind = (typeof LAB_HOST_KINDS)[number];

/** Where a lab host's kernel modules go: insmod takes a path, so no depmod is needed. */
const LAB_MODULES_DIR = '/lib/modules/rtlat';

export interface LabHost {
  kind: LabHostKind;
  /** For people: "Xen 4.17 with a Dom0 (Linux 6.1.0-57-amd64)". */
  description: string;
  /** The Debian packages it was made from, name to version. */
  packages: Record<string, string>;
  /** What QEMU boots: Xen, or the Linux kernel. */
  kernel: string;
  /** The Linux kernel that runs rtlat (Dom0's, or the KVM host's). */
  linuxKernel: string;
  /** Files the host's image holds besides busybox, Node and rtlat. */
  entries: GuestFile[];
  /** Shell commands of its /init that make it what it is (Dom0's daemons, KVM's modules). */
  setup: string;
  /** Directories its PATH needs besides the usual ones. */
  path: string[];
}

/** A package file at the same path in the image. */
function packageFile(pkg: DebianPackage, file: string, mode?: number): GuestFile {
  return hostFile(path.join(pkg.root, file), file, mode);
}

/** Every file under `dir` of a package, at the same paths in the image. */
function packageTree(pkg: DebianPackage, dir: string): GuestFile[] {
  return treeEntries(path.join(pkg.root, dir), dir);
}

/**
 * `file` (a path in a package, or on this machine) with the libraries it links, each at the path the
 * image's loader finds it under: a library of an unpacked package at its path within the package.
 */
function withLibraries(source: string, guestPath: string, packages: readonly DebianPackage[]): GuestFile[] {
  const unpacked = packages.filter((pkg) => pkg.root !== '/');
  const libraryPath = unpacked.flatMap((pkg) => ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu'].map((dir) => path.join(pkg.root, dir))).filter((dir) => existsSync(dir));
  const libraries = sharedLibraries(source, libraryPath).map((library) => {
    const owner = unpacked.find((pkg) => library.startsWith(`${pkg.root}/`));
    return hostFile(library, owner ? library.slice(owner.root.length) : library, 0o755);
  });
  return [hostFile(source, guestPath, 0o755), ...libraries];
}

/** A program of this machine at the same path in the image, with its libraries. */
function hostProgram(name: string, installWith: string): GuestFile[] {
  const found = findExecutable(name, ['/usr/bin', '/bin', '/usr/sbin', '/sbin']);
  if (found === null) throw new Error(`${name} is needed in the lab host and is not installed here (apt-get install ${installWith})`);
  return withLibraries(found, found, []);
}

/** The tools rtlat itself calls in any lab host. */
function rtlatTools(): GuestFile[] {
  const bash = hostProgram('bash', 'bash');
  return [
    ...bash,
    // ldd's #! line; /bin holds busybox's links in the image, not this machine's merged /usr.
    ...(bash[0]!.path === '/bin/bash' ? [] : [{ kind: 'symlink' as const, path: '/bin/bash', target: bash[0]!.path }]),
    ...hostProgram('ldd', 'libc-bin'),
    ...hostProgram('chrt', 'util-linux'),
    ...hostProgram('taskset', 'util-linux'),
    ...hostProgram('setpriv', 'util-linux'),
    // glibc dlopen()s it for pthread_cancel; ldd does not list it (xl aborts without it).
    hostFile(realLibgcc(), '/lib/x86_64-linux-gnu/libgcc_s.so.1', 0o755),
  ];
}

function realLibgcc(): string {
  const candidate = ['/lib/x86_64-linux-gnu/libgcc_s.so.1', '/usr/lib/x86_64-linux-gnu/libgcc_s.so.1'].find((file) => existsSync(file));
  if (candidate === undefined) throw new Error('libgcc_s.so.1 is needed in the lab host and is not installed here (apt-get install libgcc-s1)');
  return candidate;
}

interface KernelParts {
  pkg: DebianPackage;
  release: string;
  vmlinuz: string;
  modules: KernelModules;
}

/** Debian's generic kernel (what linux-image-amd64 depends on now): Dom0 needs it, and it has KVM. */
function genericKernel(debian: DebianCache): KernelParts {
  const name = debian.dependencyOf('linux-image-amd64', /^linux-image-\d.*-amd64$/);
  const pkg = debian.fetch(name);
  const release = name.slice('linux-image-'.length);
  return { pkg, release, vmlinuz: path.join(pkg.root, 'boot', `vmlinuz-${release}`), modules: new KernelModules(path.join(pkg.root, 'lib', 'modules', release)) };
}

/** insmod of each module (dependencies first), from LAB_MODULES_DIR. */
function moduleEntries(kernel: KernelParts, names: readonly string[]): { entries: GuestFile[]; script: string } {
  const files = kernel.modules.loadOrder(names);
  const entries = files.map((file) => hostFile(file, `${LAB_MODULES_DIR}/${path.basename(file)}`, 0o644));
  const script = entries.map((entry) => `insmod ${entry.path} || lab_fail "insmod ${path.basename(entry.path)} failed"`).join('\n');
  return { entries, script };
}

/** Xen as QEMU's multiboot loader needs it: an uncompressed ELF (the package has it gzipped), kept beside the package. */
function uncompressedXen(pkg: DebianPackage, version: string, cacheDir: string): string {
  const target = path.join(cacheDir, `xen-${version}-${pkg.version.replace(/[^\w.+-]/g, '_')}`);
  if (!existsSync(target)) {
    mkdirSync(cacheDir, { recursive: true });
    writeFileAtomic(target, gunzipSync(readFileSync(path.join(pkg.root, 'boot', `xen-${version}-amd64.gz`))));
  }
  return target;
}

function xenHost(debian: DebianCache): LabHost {
  const hypervisorName = debian.dependencyOf('xen-system-amd64', /^xen-hypervisor-[\d.]+-amd64$/);
  const version = /^xen-hypervisor-([\d.]+)-amd64$/.exec(hypervisorName)![1]!;
  const kernel = genericKernel(debian);
  const hypervisor = debian.fetch(hypervisorName);
  const main = [`xen-utils-${version}`, 'xen-utils-common', 'xenstore-utils', 'qemu-system-xen'].map((name) => debian.fetch(name));
  const libraries = debian.missingLibraries(main.map((pkg) => pkg.name)).map((name) => debian.fetch(name));
  const all = [...main, ...libraries];
  const [utils, , xenstoreUtils, deviceModel] = main as [DebianPackage, DebianPackage, DebianPackage, DebianPackage];
  // The device model's firmware and ROMs: this machine's when installed (qemu-system-x86 brings them).
  const seabios = debian.installedOrFetched('seabios');
  const qemuData = debian.installedOrFetched('qemu-system-data');

  const toolsDir = `/usr/lib/xen-${version}`;
  const entries: GuestFile[] = [...packageTree(utils, toolsDir)];
  for (const name of readdirSync(path.join(utils.root, toolsDir, 'bin'))) {
    const file = path.join(utils.root, toolsDir, 'bin', name);
    if (statSync(file).isFile() && spawnSync('ldd', [file]).status === 0) entries.push(...withLibraries(file, `${toolsDir}/bin/${name}`, all).slice(1));
  }
  entries.push(...libraries.flatMap((pkg) => ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu'].filter((dir) => existsSync(path.join(pkg.root, dir))).flatMap((dir) => packageTree(pkg, `/${dir}`))));
  // xenstore-read, -write, ... are links to xenstore.
  entries.push(...treeEntries(path.join(xenstoreUtils.root, 'usr/bin'), '/usr/bin', (name) => !name.startsWith('xenstore')));
  entries.push(...withLibraries(path.join(xenstoreUtils.root, 'usr/bin/xenstore'), '/usr/bin/xenstore', all).slice(1));
  entries.push(...withLibraries(path.join(deviceModel.root, 'usr/libexec/xen-qemu-system-i386'), '/usr/libexec/xen-qemu-system-i386', all));
  entries.push(packageFile(seabios, '/usr/share/seabios/bios-256k.bin'));
  for (const rom of ['linuxboot.bin', 'linuxboot_dma.bin', 'kvmvapic.bin']) entries.push(packageFile(qemuData, `/usr/share/qemu/${rom}`));
  entries.push(...packageTree(qemuData, '/usr/share/qemu/keymaps'));
  // Ballooning Dom0 down for each domU takes minutes under TCG: Dom0 has a fixed size (dom0_mem).
  entries.push({ kind: 'file', path: '/etc/xen/xl.conf', mode: 0o644, data: Buffer.from('autoballoon="off"\n') });
  const modules = moduleEntries(kernel, ['xen-evtchn', 'xen-privcmd', 'xenfs', 'xen-gntdev', 'xen-gntalloc']);
  entries.push(...modules.entries);

  const setup = `${modules.script}
mount -t xenfs xenfs /proc/xen || lab_fail "mount -t xenfs failed"
mkdir -p /var/lock /run/xen /run/xenstored /var/lib/xen /var/lib/xenstored /var/log/xen/console
[ -e /var/run ] || ln -s /run /var/run
xenstored --pid-file=/run/xenstored.pid || lab_fail "xenstored failed"
xen-init-dom0 >/dev/null || lab_fail "xen-init-dom0 failed"
xenconsoled --pid-file=/run/xenconsoled.pid || lab_fail "xenconsoled failed"`;
  return {
    kind: 'xen',
    description: `Xen ${version} with a Dom0 (Linux ${kernel.release})`,
    packages: Object.fromEntries([hypervisor, kernel.pkg, ...all].map((pkg) => [pkg.name, pkg.version])),
    kernel: uncompressedXen(hypervisor, version, path.join(debian.dir, 'boot')),
    linuxKernel: kernel.vmlinuz,
    entries: [...entries, ...rtlatTools()],
    setup,
    path: [`${toolsDir}/bin`],
  };
}

function kvmHost(debian: DebianCache): LabHost {
  const kernel = genericKernel(debian);
  const qemu = findExecutable('qemu-system-x86_64', ['/usr/bin']);
  if (qemu === null) throw new Error('qemu-system-x86_64 is needed in a KVM lab host and is not installed here (apt-get install qemu-system-x86)');
  const seabios = debian.installedOrFetched('seabios');
  const qemuData = debian.installedOrFetched('qemu-system-data');
  const modules = moduleEntries(kernel, ['kvm-amd']);
  const entries: GuestFile[] = [
    ...withLibraries(qemu, qemu, []),
    packageFile(seabios, '/usr/share/seabios/bios-256k.bin'),
    ...['linuxboot.bin', 'linuxboot_dma.bin', 'kvmvapic.bin'].map((rom) => packageFile(qemuData, `/usr/share/qemu/${rom}`)),
    ...modules.entries,
    ...rtlatTools(),
  ];
  return {
    kind: 'kvm',
    description: `Linux ${kernel.release} with KVM`,
    packages: { [kernel.pkg.name]: kernel.pkg.version },
    kernel: kernel.vmlinuz,
    linuxKernel: kernel.vmlinuz,
    entries,
    // TCG emulates AMD's SVM (never Intel's VMX): kvm_amd is KVM here.
    setup: `${modules.script}\n[ -c /dev/kvm ] || lab_fail "no /dev/kvm after loading kvm_amd (does the emulated CPU have svm?)"`,
    path: [],
  };
}

/** Fetches (or finds cached) what a lab host of `kind` is made of. */
export function prepareLabHost(kind: LabHostKind, debian: DebianCache): LabHost {
  return kind === 'xen' ? xenHost(debian) : kvmHost(debian);
}
