// One measurement in a guest: choose the accelerator, boot the kernel with rtlat's initramfs, tune
// QEMU's threads and start the host-side load once the guest is up, let it measure, take its results
// back, and leave nothing running. The run file that comes back is the guest's own, with what only
// the host knows added: how the guest ran (`guest`) and the host's fingerprint (`hostEnvironment`).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { OptionError } from '../../errors.js';
import { readFingerprint } from '../../fingerprint/index.js';
import { startLoad, type LoadHandle } from '../../load/index.js';
import type { RunFile, RunGuest, RunLoad, RunQemuGuest } from '../../run-file/schema.js';
import { usableCpus } from '../../engine/system.js';
import { HostVcpuTrace, withHostViews } from '../../trace/host-vcpus.js';
import { formatDuration, NS_PER_MS } from '../../units.js';
import { chooseAccelerator, type AcceleratorChoice } from './accelerator.js';
import { alignClocks, ClockExchange, type ClockSample } from './clock-align.js';
import { findExecutable, PACKAGE_ROOT } from './contents.js';
import { baseImage, defaultCacheDir, writeRunInitrd, type ExtraFile } from './initramfs.js';
import { checkKernelImage, checkQemuBinary } from './kernel-image.js';
import { Deadlines } from './deadlines.js';
import { ACK, channelOutcome, CLOCK, GO, GUEST_FILES, GuestChannel, STOP, type GuestReport } from './protocol.js';
import { pinVcpuThreads, readThreadStates, setFifoPriority } from './threads.js';
import { consoleTail, linuxCommandLine, Vm } from './vm.js';

export const QEMU_BINARY = 'qemu-system-x86_64';

/** What any guest's measurement takes, whatever runs the guest (QEMU here, Xen in targets/xen). */
export interface GuestSetup {
  kernel: string;
  /** `rtlat measure` options for the guest; --json and --hdr-log are rtlat's to add. */
  measureArgs: readonly string[];
  /** Bring the HdrHistogram log back too. */
  hdrLog?: boolean;
  vcpus?: number;
  memoryMiB?: number;
  kernelArgs?: readonly string[];
  extras?: readonly ExtraFile[];
  /** Host (Xen: physical) CPUs for the vCPUs, vCPU i on pinVcpus[i % length]. */
  pinVcpus?: readonly number[] | null;
  /** SCHED_FIFO priority for the vCPU threads (Xen HVM: the device model's threads) while measuring. */
  qemuPriority?: number | null;
  /** A load on the host (Xen: in Dom0) while the guest measures. */
  load?: { spec: string; cpus: readonly number[] | null } | null;
  /**
   * Trace the host's CPUs for the vCPU threads and add to each of the guest's explained wake-ups what the
   * host did to its vCPU thread, on clocks aligned through the guest protocol (--explain-host).
   */
  explainHost?: boolean;
  bootTimeoutMs?: number;
  cacheDir?: string;
  /** The host's command line, for the run file. */
  commandLine: string;
  /** Aborting stops the measurement early; the results measured so far still come back. */
  signal?: AbortSignal;
  /** Progress, one line at a time ("building the guest image", "booting under TCG"). */
  onProgress?: (line: string) => void;
}

export interface GuestOptions extends GuestSetup {
  qemu?: string;
  accelerator?: AcceleratorChoice;
  kvmProbeTimeoutMs?: number;
  /** Everything the guest's console prints. */
  onConsole?: (text: string) => void;
}

export interface GuestResult<Guest extends RunGuest = RunGuest> {
  /** Null when rtlat in the guest wrote none (e.g. it refused an option). */
  run: RunFile | null;
  hdrLog: Buffer | null;
  /** What rtlat printed in the guest, and its exit status there. */
  stdout: string;
  stderr: string;
  status: number;
  info: Guest;
}

export const DEFAULT_VCPUS = 1;
export const DEFAULT_MEMORY_MIB = 1024;
export const DEFAULT_BOOT_TIMEOUT_MS = 120_000;
const DEFAULT_KVM_PROBE_TIMEOUT_MS = 20_000;
/** A guest powers off right after sending its results. */
export const POWER_OFF_TIMEOUT_MS = 20_000;
const CONSOLE_LINES_IN_ERRORS = 6;
/** The guest's clock echo is a Node process of its own: under TCG it takes seconds to start. */
const CLOCK_EXCHANGE_TIMEOUT_MS = 60_000;


/** qemu-system-x86_64 on PATH, or the one given (checked: an OptionError for --qemu); an Error that says how to get it otherwise. */
export function findQemu(given?: string): string {
  if (given !== undefined) return checkQemuBinary('qemu', given);
  const found = findExecutable(QEMU_BINARY);
  if (found === null) throw new Error(`${QEMU_BINARY} not found on PATH: install QEMU (Debian: apt-get install qemu-system-x86) or give --qemu`);
  return found;
}

function qemuVersion(qemu: string): string | null {
  const result = spawnSync(qemu, ['--version'], { encoding: 'utf8' });
  return /version\s+(.+)/.exec(result.stdout ?? '')?.[1]?.trim() ?? null;
}

/**
 * Two SCHED_FIFO threads of one priority on one CPU never share it: a vCPU spinning on another (for an
 * IPI, a lock) would wait for it forever. So QEMU at SCHED_FIFO needs a host CPU for each vCPU.
 */
function checkQemuPriority(priority: number, vcpus: number, pinVcpus: readonly number[] | null | undefined): void {
  const hostCpus = pinVcpus?.length ? new Set(pinVcpus).size : usableCpus().allowed.length;
  if (vcpus > hostCpus) {
    throw new OptionError('qemu-priority', priority, `a host CPU for each vCPU (${vcpus} vCPUs on ${hostCpus} CPUs would starve each other at SCHED_FIFO)`);
  }
}

/** The guest's run file as the host keeps it: its own command line, the host's load and fingerprint, and how the guest ran. */
export function guestRunFile(measured: RunFile, commandLine: string, hostLoad: RunLoad | null, info: RunGuest): RunFile {
  return { ...measured, commandLine, load: hostLoad ?? measured.load, hostEnvironment: readFingerprint(), guest: info };
}

/**
 * The run file a guest sent. It came back whole (the channel checks its length and gzip its CRC), so
 * bytes that are not JSON were damaged inside the guest, before or as its init read the file.
 */
function parseGuestRun(bytes: Buffer): RunFile {
  try {
    return JSON.parse(bytes.toString('utf8')) as RunFile;
  } catch (error) {
    throw new Error(`the run file the guest sent back arrived whole but is not JSON (${(error as Error).message}): it was damaged inside the guest`);
  }
}

/** What came back from a guest, as the host keeps it. */
export function guestResult<Guest extends RunGuest>({ files, status }: GuestReport, commandLine: string, hostLoad: RunLoad | null, info: Guest): GuestResult<Guest> {
  return {
    run: files.run ? guestRunFile(parseGuestRun(files.run), commandLine, hostLoad, info) : null,
    hdrLog: files.hdrLog ?? null,
    stdout: files.stdout?.toString('utf8') ?? '',
    stderr: files.stderr?.toString('utf8') ?? '',
    status,
    info,
  };
}

/** The rtlat command a guest runs: measure, writing its results where the guest's init sends them from. */
export function guestMeasureCommand(measureArgs: readonly string[], hdrLog: boolean): string[] {
  return ['measure', ...measureArgs, '--json', GUEST_FILES.run, ...(hdrLog ? ['--hdr-log', GUEST_FILES.hdrLog] : [])];
}

export async function runGuest(options: GuestOptions): Promise<GuestResult<RunQemuGuest>> {
  // The options first: a mistake in them is a usage error whether QEMU is installed or not.
  checkKernelImage('kernel', options.kernel);
  const vcpus = options.vcpus ?? DEFAULT_VCPUS;
  const memoryMiB = options.memoryMiB ?? DEFAULT_MEMORY_MIB;
  const bootTimeoutMs = options.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS;
  const progress = options.onProgress ?? (() => {});
  if (options.qemuPriority != null) checkQemuPriority(options.qemuPriority, vcpus, options.pinVcpus);
  const qemu = findQemu(options.qemu);

  const base = baseImage(PACKAGE_ROOT, options.cacheDir ?? defaultCacheDir());
  if (!base.reused) progress(`built the guest image ${base.path}`);
  // Asked for, KVM gets the whole boot time-out for its probe: under nested virtualization (a KVM that is
  // itself emulated) even the probe's boot takes its time; unasked, a short probe keeps TCG's start quick.
  const probeTimeoutMs = options.kvmProbeTimeoutMs ?? (options.accelerator === 'kvm' ? bootTimeoutMs : DEFAULT_KVM_PROBE_TIMEOUT_MS);
  const decision = await chooseAccelerator(options.accelerator ?? 'auto', qemu, options.kernel, probeTimeoutMs);
  progress(
    decision.accelerator === 'tcg'
      ? `booting under TCG, EMULATED (${decision.reason}): the latencies are QEMU's emulator's, not a hypervisor's`
      : `booting under KVM (${decision.reason})`,
  );

  const guestArgs = guestMeasureCommand(options.measureArgs, options.hdrLog ?? false);
  const info: RunQemuGuest = {
    hypervisor: 'qemu',
    accelerator: decision.accelerator,
    emulated: decision.accelerator === 'tcg',
    acceleratorReason: decision.reason,
    kernel: { path: path.resolve(options.kernel), release: null },
    qemu: { path: qemu, version: qemuVersion(qemu) },
    vcpus,
    memoryMiB,
    vcpuCpus: null,
    qemuPriority: options.qemuPriority ?? null,
    guestCommandLine: ['rtlat', ...guestArgs].join(' '),
  };

  const dir = mkdtempSync(path.join(tmpdir(), 'rtlat-guest-'));
  let vm: Vm | null = null;
  let load: LoadHandle | null = null;
  let hostTrace: HostVcpuTrace | null = null;
  const deadlines = new Deadlines();
  const lastLines = () => consoleTail(vm?.lastLines(CONSOLE_LINES_IN_ERRORS) ?? []);
  try {
    const initrd = path.join(dir, 'initrd.cpio');
    writeRunInitrd(initrd, base.path, guestArgs, options.extras ?? []);
    const { cameUp, report, events } = channelOutcome();
    // The second clock exchange, which the guest asks for once it has measured (--explain-host).
    let clockAtEnd: Promise<ClockSample | null> = Promise.resolve(null);
    const clock = new ClockExchange(() => {
      clockAtEnd = clock.measure((text) => vm?.send(text), CLOCK_EXCHANGE_TIMEOUT_MS).catch(() => null);
    });
    const channel = new GuestChannel({ ...events, onClock: (event) => clock.handle(event) });
    vm = await Vm.start(
      { qemu, kernel: options.kernel, initrd, accelerator: decision.accelerator, vcpus, memoryMiB, commandLine: linuxCommandLine(options.kernelArgs ?? []), dir },
      { onChannel: (text) => channel.push(text), ...(options.onConsole && { onConsole: options.onConsole }) },
    );
    const running = vm;
    const ended = (when: string) =>
      running.exited.then(({ code, signal }) => {
        throw new Error(`QEMU ended ${when} (${signal ?? `exit code ${code}`})${lastLines()}`);
      });

    const vcpuThreads = await running.vcpuThreads();
    if (options.pinVcpus?.length) info.vcpuCpus = pinVcpuThreads(vcpuThreads, options.pinVcpus);
    await running.resume();
    // QEMU has read the kernel and initrd and holds its sockets open: nothing in the folder is needed
    // any more, and nothing is left on disk even if rtlat is killed.
    rmSync(dir, { recursive: true, force: true });
    info.kernel.release = await Promise.race([
      cameUp,
      ended('before the guest came up'),
      deadlines.interruptedBefore(options.signal, 'the guest'),
      deadlines.after(bootTimeoutMs, () => `the guest did not come up within ${formatDuration(bootTimeoutMs * NS_PER_MS)} under ${decision.accelerator.toUpperCase()}${lastLines()}`),
    ]);

    // While it boots the guest is not measured, so QEMU keeps its ordinary priority until now. Only the
    // vCPU threads: QEMU's main loop and workers at SCHED_FIFO too were seen to starve a (nested) KVM
    // host's own kernel threads for good.
    if (options.qemuPriority != null) {
      setFifoPriority(vcpuThreads, options.qemuPriority, (tid) => existsSync(`/proc/${running.pid}/task/${tid}`));
    }
    // What the kernel says of each QEMU thread, as chrt -p and taskset -p show it: the set-up as it really was.
    info.threads = readThreadStates(running.threads()).map((state) => ({ ...state, vcpu: vcpuThreads.includes(state.tid) ? vcpuThreads.indexOf(state.tid) : null }));
    if (options.load) {
      load = await startLoad(options.load.spec, { cpus: options.load.cpus ?? info.vcpuCpus ?? usableCpus().allowed });
    }
    let clockAtStart: ClockSample | null = null;
    if (options.explainHost) {
      hostTrace = new HostVcpuTrace(vcpuThreads, info.vcpuCpus ? [...new Set(info.vcpuCpus)].sort((a, b) => a - b) : usableCpus().allowed);
      running.send(CLOCK);
      clockAtStart = await clock.measure((text) => running.send(text), CLOCK_EXCHANGE_TIMEOUT_MS);
    }
    running.send(GO);
    progress(`the guest is up (kernel ${info.kernel.release}): measuring`);
    const stopTimedOut = deadlines.stopOnAbort(options.signal, () => running.send(STOP), lastLines);
    const { files, status } = await Promise.race([report, ended('before the guest sent its results'), stopTimedOut]);
    running.send(ACK);
    progress('results received');
    await Promise.race([running.exited, deadlines.after(POWER_OFF_TIMEOUT_MS, () => 'the guest did not power off after its results')]);
    const hostLoad = load ? await load.stop() : null;
    const result = guestResult({ files, status }, options.commandLine, hostLoad, info);
    if (hostTrace && clockAtStart) {
      hostTrace.stop();
      const alignment = alignClocks(clockAtStart, await clockAtEnd);
      if (result.run?.explain) {
        const { offsetNs, errorNs, driftPpm } = alignment;
        result.run = { ...result.run, explain: withHostViews(result.run.explain, hostTrace, alignment.toHost, { offsetNs, errorNs, driftPpm }) };
      }
    }

    return result;
  } finally {
    deadlines.clear();
    await vm?.kill();
    hostTrace?.stop();
    await load?.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
