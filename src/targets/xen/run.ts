// One measurement in a Xen domU, run from Dom0: the same image as a QEMU guest's (busybox, Node, rtlat),
// an xl configuration of the type asked for, the domain created paused, its console opened as the
// channel, then the research's knobs once it is up (the HVM device model's threads at SCHED_FIFO, the
// load in Dom0 on chosen physical CPUs), the measurement, its results, and the domain destroyed on
// every way out (domain.ts). The run file is the guest's own, with Dom0's fingerprint as its
// hostEnvironment and the guest block saying how Xen ran it.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { OptionError } from '../../errors.js';
import { readFingerprint, type Fingerprint } from '../../fingerprint/index.js';
import { PACKAGE_ROOT } from '../guest/contents.js';
import { baseImage, defaultCacheDir, runFiles, writeRunInitrd } from '../guest/initramfs.js';
import { Deadlines } from '../guest/deadlines.js';
import { ACK, CHANNEL_PARAMETER, channelOutcome, GO, GuestChannel, STOP } from '../guest/protocol.js';
import { DEFAULT_MEMORY_MIB, DEFAULT_VCPUS, guestMeasureCommand, guestResult, POWER_OFF_TIMEOUT_MS, type GuestOptions, type GuestResult, type GuestSetup } from '../guest/guest.js';
import { readThreadStates, setFifoPriority } from '../guest/threads.js';
import { startLoad, type LoadHandle } from '../../load/index.js';
import { labMarker } from '../../run-file/lab.js';
import type { RunXenGuest } from '../../run-file/schema.js';
import { usableCpus } from '../../engine/system.js';
import { formatCpuList, formatDuration, NS_PER_MS } from '../../units.js';
import { checkKernelImage, kernelImageRelease } from '../guest/kernel-image.js';
import { consoleTail } from '../guest/vm.js';
import { ConsoleChannel } from './console.js';
import { xlConfig, type XenGuestType } from './config.js';
import { destroyOrphans, Domain, domainName } from './domain.js';
import { blockFrontend, guestKernelModules, HVM_LOADER, writeHvmImage } from './hvm.js';
import { dom0Problem, parseVcpuList, parseXlInfo, xl } from './xl.js';

export interface XenGuestOptions extends GuestSetup {
  type: XenGuestType;
  /** The guest kernel's modules folder (an HVM guest needs its xen-blkfront); default /lib/modules/RELEASE. */
  kernelModules?: string | null;
}

/** A Xen guest's options from a QEMU guest's (those for QEMU itself left out): the CLI's flags are the same. */
export function xenGuestOptions(options: GuestOptions, type: XenGuestType, kernelModules: string | undefined | null): XenGuestOptions {
  const { qemu: _qemu, accelerator: _accelerator, kvmProbeTimeoutMs: _probe, onConsole: _console, ...setup } = options;
  return { ...setup, type, kernelModules: kernelModules ?? null };
}

export const DEFAULT_XEN_BOOT_TIMEOUT_MS = 300_000;
const CONSOLE_LINES_IN_ERRORS = 6;

/** Why Xen counts as emulated here, from Dom0's fingerprint: rtlat lab's marker, or CPUID naming QEMU's TCG. */
function emulationOf(dom0: Fingerprint): string | null {
  const marker = labMarker(dom0.kernel.commandLine.value);
  if (marker) return `Xen runs in an rtlat lab host (lab ${marker.host}/${marker.accelerator})`;
  // A PV Dom0 sees the CPU's own CPUID unless Xen traps it: under QEMU's TCG, TCG's signature.
  if (dom0.virtualization.cpuidVendor.value === 'TCGTCGTCGTCG') return 'Xen runs on a CPU QEMU emulates (TCG)';
  return null;
}

/** The process of domain `id`'s device model in Dom0 (qemu-system-i386 -xen-domid ID), or null. */
export function deviceModelOf(id: number): { pid: number; path: string | null } | null {
  for (const name of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = args.indexOf('-xen-domid');
    if (at >= 0 && args[at + 1] === `${id}`) return { pid: Number(name), path: args[0] || null };
  }
  return null;
}

function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

/** Dom0's vCPUs pinned to physical CPUs for the load, and put back as they were. */
class Dom0Pinning {
  private constructor(
    readonly pairs: { vcpu: number; pcpu: number }[],
    private readonly before: { vcpu: number; hard: number[] | null }[],
  ) {}

  static pin(pcpus: readonly number[]): Dom0Pinning {
    const before = parseVcpuList(xl(['vcpu-list', 'Domain-0']), 'Domain-0');
    if (pcpus.length > before.length) {
      throw new OptionError('load-cpus', formatCpuList(pcpus), `at most ${before.length} physical CPUs: Dom0 has ${before.length} vCPUs to run the load on`);
    }
    const pairs = pcpus.map((pcpu, vcpu) => ({ vcpu, pcpu }));
    for (const { vcpu, pcpu } of pairs) xl(['vcpu-pin', 'Domain-0', `${vcpu}`, `${pcpu}`]);
    return new Dom0Pinning(pairs, before);
  }

  restore(): void {
    for (const { vcpu } of this.pairs) {
      const hard = this.before.find((entry) => entry.vcpu === vcpu)?.hard ?? null;
      xl(['vcpu-pin', 'Domain-0', `${vcpu}`, hard === null ? 'all' : formatCpuList(hard)]);
    }
  }
}

/**
 * The load "in Dom0" of the research: with `pcpus`, Dom0's vCPU i is pinned to the i-th of them while it
 * runs, and the load runs on those vCPUs; without, on every CPU Dom0 has. Stopping it puts the pinning back.
 */
export async function startDom0Load(spec: string, pcpus: readonly number[] | null): Promise<{ load: LoadHandle; pinned: { vcpu: number; pcpu: number }[] | null }> {
  const pinning = pcpus === null ? null : Dom0Pinning.pin([...new Set(pcpus)]);
  let restored = false;
  const restore = () => {
    if (!restored) pinning?.restore();
    restored = true;
  };
  try {
    const load = await startLoad(spec, { cpus: pinning ? pinning.pairs.map((pair) => pair.vcpu) : usableCpus().allowed });
    const stop = async () => {
      try {
        return await load.stop();
      } finally {
        restore();
      }
    };
    return { load: { spec: load.spec, cpus: load.cpus, stop }, pinned: pinning?.pairs ?? null };
  } catch (error) {
    restore();
    throw error;
  }
}

export async function runXenGuest(options: XenGuestOptions): Promise<GuestResult<RunXenGuest>> {
  // The options first: a mistake in them is a usage error wherever this runs.
  checkKernelImage('kernel', options.kernel);
  if (options.qemuPriority != null && options.type !== 'hvm') {
    throw new OptionError('qemu-priority', options.qemuPriority, 'an HVM guest (--xen-type hvm): PV and PVH guests have no device model');
  }
  const problem = dom0Problem();
  if (problem !== null) throw new Error(`--hypervisor xen runs in Xen's Dom0, and ${problem}`);
  const progress = options.onProgress ?? (() => {});
  const vcpus = options.vcpus ?? DEFAULT_VCPUS;
  const memoryMiB = options.memoryMiB ?? DEFAULT_MEMORY_MIB;
  const bootTimeoutMs = options.bootTimeoutMs ?? DEFAULT_XEN_BOOT_TIMEOUT_MS;
  const dom0 = readFingerprint();
  const emulation = emulationOf(dom0);
  const xen = parseXlInfo(xl(['info']));
  const release = kernelImageRelease(options.kernel);

  for (const orphan of destroyOrphans()) progress(`destroyed ${orphan}, left by an rtlat that is gone`);
  const base = baseImage(PACKAGE_ROOT, options.cacheDir ?? defaultCacheDir());
  if (!base.reused) progress(`built the guest image ${base.path}`);

  const guestArgs = guestMeasureCommand(options.measureArgs, options.hdrLog ?? false);
  const name = domainName(options.type);
  const info: RunXenGuest = {
    hypervisor: 'xen',
    type: options.type,
    emulated: emulation !== null,
    emulation,
    xen,
    domain: { name, id: null },
    kernel: { path: path.resolve(options.kernel), release },
    vcpus,
    memoryMiB,
    vcpuCpus: null,
    image: 'ramdisk',
    deviceModel: null,
    dom0LoadCpus: null,
    guestCommandLine: ['rtlat', ...guestArgs].join(' '),
  };

  const dir = mkdtempSync(path.join(tmpdir(), 'rtlat-xen-'));
  let domain: Domain | null = null;
  let console: ConsoleChannel | null = null;
  let load: LoadHandle | null = null;
  const deadlines = new Deadlines();
  const lastLines = () => consoleTail(console?.lastLines(CONSOLE_LINES_IN_ERRORS) ?? []);
  try {
    const files = runFiles(guestArgs, options.extras ?? []);
    const commandLine = ['console=hvc0', 'quiet', 'panic=-1', `${CHANNEL_PARAMETER}=hvc0`];
    let ramdisk: string;
    let imageDisk: string | null = null;
    const frontend = options.type === 'hvm' ? blockFrontend(guestKernelModules(options.kernelModules ?? null, release)) : null;
    if (frontend !== null) {
      ({ ramdisk, disk: imageDisk } = writeHvmImage(dir, base.path, files, frontend));
      commandLine.push(`rdinit=${HVM_LOADER}`);
      info.image = 'disk';
    } else {
      ramdisk = path.join(dir, 'initrd.cpio');
      writeRunInitrd(ramdisk, base.path, guestArgs, options.extras ?? []);
      if (options.type === 'hvm') {
        progress(`no xen-blkfront for kernel ${release ?? '(unknown release)'} (give --kernel-modules): the whole image goes in the ramdisk, which an HVM guest's firmware loads slowly`);
      }
    }
    const configFile = path.join(dir, `${name}.cfg`);
    const config = xlConfig({
      name,
      type: options.type,
      kernel: path.resolve(options.kernel),
      ramdisk,
      commandLine: [...commandLine, ...(options.kernelArgs ?? [])].join(' '),
      memoryMiB,
      vcpus,
      pinVcpus: options.pinVcpus ?? null,
      imageDisk,
      emulatedCpu: emulation !== null,
    });
    writeFileSync(configFile, config);

    progress(`creating ${options.type.toUpperCase()} domain ${name} (Xen ${xen.version ?? '?'}, ${xen.scheduler ?? '?'} scheduler)${emulation ? `, EMULATED: ${emulation}` : ''}`);
    domain = await Domain.create(name, configFile);
    const created = domain;
    info.domain.id = created.id;
    const { cameUp, report, events } = channelOutcome();
    const channel = new GuestChannel(events);
    console = await ConsoleChannel.open(created.id, (text) => channel.push(text));
    const opened = console;
    created.unpause();
    // Xen has loaded the kernel and ramdisk, and the device model holds the disk open.
    rmSync(dir, { recursive: true, force: true });
    // A guest that crashes early is destroyed (on_crash), which closes its console: say so then, not at the boot time-out.
    const vanished = opened.ended.then(() => {
      throw new Error(`domain ${name} ended before the guest came up (it crashed or powered off)${lastLines()}`);
    });
    const reportedRelease = await Promise.race([
      cameUp,
      deadlines.interruptedBefore(options.signal, 'the guest'),
      vanished,
      deadlines.after(bootTimeoutMs, () => `the ${options.type.toUpperCase()} guest did not come up within ${formatDuration(bootTimeoutMs * NS_PER_MS)}${options.type === 'hvm' ? ' (an HVM guest\'s firmware loads its kernel slowly on an emulated CPU: give --boot-timeout)' : ''}${lastLines()}`),
    ]);
    info.kernel.release = reportedRelease;

    info.vcpuCpus = readBackPinning(name, options.pinVcpus ?? null);
    if (options.type === 'hvm') {
      const model = deviceModelOf(created.id);
      if (model === null) throw new Error(`domain ${name}'s device model (qemu-system-i386 -xen-domid ${created.id}) is not running`);
      if (options.qemuPriority != null) setFifoPriority(threadsOf(model.pid), options.qemuPriority, (tid) => threadsOf(model.pid).includes(tid));
      info.deviceModel = { path: model.path, pid: model.pid, priority: options.qemuPriority ?? null, threads: readThreadStates(threadsOf(model.pid)) };
    }
    if (options.load) {
      const started = await startDom0Load(options.load.spec, options.load.cpus ?? options.pinVcpus ?? null);
      load = started.load;
      info.dom0LoadCpus = started.pinned;
    }
    opened.send(GO);
    progress(`the guest is up (kernel ${reportedRelease}): measuring`);
    const stopTimedOut = deadlines.stopOnAbort(options.signal, () => opened.send(STOP), lastLines);
    const endedEarly = opened.ended.then(() => {
      throw new Error(`domain ${name} ended before the guest sent its results${lastLines()}`);
    });
    const results = await Promise.race([report, stopTimedOut, endedEarly]);
    opened.send(ACK);
    progress('results received');
    const hostLoad = load ? await load.stop() : null;
    await waitUntilGone(name, POWER_OFF_TIMEOUT_MS);
    return guestResult(results, options.commandLine, hostLoad, info);
  } finally {
    deadlines.clear();
    console?.close();
    await load?.stop().catch(() => {});
    await domain?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each vCPU's physical CPU as Xen reports it (xl vcpu-list); null when not pinned. */
function readBackPinning(name: string, pinVcpus: readonly number[] | null): number[] | null {
  if (!pinVcpus?.length) return null;
  return parseVcpuList(xl(['vcpu-list', name]), name).map(({ vcpu, hard }) => {
    if (hard === null || hard.length !== 1) throw new Error(`vCPU ${vcpu} of ${name} is not pinned to one physical CPU (xl vcpu-list says ${hard === null ? 'all' : formatCpuList(hard)})`);
    return hard[0]!;
  });
}

/** A guest that sent its results powers off, and on_poweroff destroys its domain. */
async function waitUntilGone(name: string, timeoutMs: number): Promise<void> {
  for (const started = Date.now(); Date.now() - started < timeoutMs; await new Promise((resolve) => setTimeout(resolve, 250))) {
    try {
      xl(['domid', name]);
    } catch {
      return;
    }
  }
}
