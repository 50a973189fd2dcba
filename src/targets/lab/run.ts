// `rtlat lab`: an emulated host of a given kind, booted under QEMU (TCG where nothing better works) from
// Debian's packages, with rtlat inside it, running one rtlat command there. The command's files come in
// and go out by the paths on its command line (paths.ts), its stderr is passed on as it comes, its
// stdout and exit status at the end. The signals rtlat lab gets are passed on: SIGINT and SIGTERM as
// themselves, a second one as SIGKILL. Every run file that comes back says it was made in a lab.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../../outputs/atomic-file.js';
import { chooseAccelerator, type AcceleratorChoice } from '../guest/accelerator.js';
import { hostFile, PACKAGE_ROOT, treeEntries, type GuestFile } from '../guest/contents.js';
import { baseImage, cachedImage, defaultCacheDir, rtlatRuntime, script, writeLayeredArchive, type BaseImage } from '../guest/initramfs.js';
import { Deadlines } from '../guest/deadlines.js';
import { ACK, channelOutcome, GO, GuestChannel, STOP } from '../guest/protocol.js';
import { findQemu } from '../guest/guest.js';
import { consoleTail, linuxCommandLine, multibootModules, Vm, type Accelerator } from '../guest/vm.js';
import { labFromFingerprints, LAB_PARAMETER } from '../../run-file/lab.js';
import type { RunFile, RunLab } from '../../run-file/schema.js';
import { formatDuration, NS_PER_MS } from '../../units.js';
import { DebianCache } from './debian.js';
import { prepareLabHost, type LabHost, type LabHostKind } from './hosts.js';
import { KILL, LAB_ARGS_FILE, LAB_CANDIDATES_FILE, LAB_GUEST_IMAGE, labArgsScript, labInit, RTLAT_WRAPPER, STDOUT_NAME, TERMINATE } from './init.js';
import { commandInputs, commandLinePaths, isReturnable } from './paths.js';

export const DEFAULT_LAB_CPUS = 2;
export const DEFAULT_LAB_MEMORY_MIB = 3072;
export const DEFAULT_LAB_BOOT_TIMEOUT_MS = 300_000;
/** Dom0 gets half the lab host's memory (at least 1 GiB: it holds rtlat's guest images), the domUs the rest. */
const MIN_DOM0_MIB = 1024;
const POWER_OFF_TIMEOUT_MS = 60_000;
const CONSOLE_LINES_IN_ERRORS = 8;


export type ForwardedSignal = 'SIGINT' | 'SIGTERM' | 'SIGKILL';

export interface LabOptions {
  host: LabHostKind;
  /** The rtlat command to run there, without "rtlat": ["guest", "--hypervisor", "xen", ...]. */
  args: readonly string[];
  /** Where the command runs (its relative paths), here and there; default process.cwd(). */
  cwd?: string;
  cpus?: number;
  memoryMiB?: number;
  accelerator?: AcceleratorChoice;
  qemu?: string;
  bootTimeoutMs?: number;
  /** rtlat's cache folder; the lab keeps its packages and images in CACHE/lab. */
  cacheDir?: string;
  /** Aborted before the command runs: the boot is given up. */
  signal?: AbortSignal;
  /** Receives the function that passes a signal on to the command, once it runs. */
  onCommandStarted?: (forward: (signal: ForwardedSignal) => void) => void;
  onProgress?: (line: string) => void;
  /** Each line the command writes to stderr, as it comes. */
  onStderr?: (line: string) => void;
  /** Everything the lab host's console prints (Xen's and the kernel's messages). */
  onConsole?: (text: string) => void;
}

export interface LabResult {
  /** The command's exit status in the lab host. */
  status: number;
  stdout: string;
  /** The files written here, by path. */
  files: string[];
  /** What was still running in the lab host after the command ("domain rtlat-12-pv", "process ..."). */
  left: string[];
  lab: { host: LabHostKind; accelerator: Accelerator; description: string; packages: Record<string, string> };
}

/** The lab block for a run file that came back: its fingerprints' nesting when they carry the marker. */
export function stampRun(run: RunFile, lab: LabResult['lab']): RunFile {
  const derived = labFromFingerprints(run, lab.description);
  const block: RunLab = derived ?? { host: lab.host, accelerator: lab.accelerator, emulated: true, nesting: `lab ${lab.host}/${lab.accelerator}`, description: lab.description };
  return { ...run, lab: block };
}

function isRunFile(value: unknown): value is RunFile {
  return typeof value === 'object' && value !== null && (value as { schema?: unknown }).schema === 'rtlat.run';
}

/** A returned file as written here: a run file gets its lab block. */
function returnedContents(file: string, data: Buffer, lab: LabResult['lab']): Buffer | string {
  if (!file.endsWith('.json')) return data;
  try {
    const parsed: unknown = JSON.parse(data.toString('utf8'));
    return isRunFile(parsed) ? `${JSON.stringify(stampRun(parsed, lab), null, 2)}\n` : data;
  } catch {
    return data;
  }
}

/** The lab host's image: its kind's parts, rtlat, and the image of rtlat's guests (made here, where it is quick). */
function labImage(host: LabHost, cacheDir: string, guestImage: string): BaseImage {
  return cachedImage(path.join(cacheDir, 'images'), `${host.kind}-`, [
    script('/init', labInit(host.setup, host.path)),
    script('/usr/bin/rtlat', RTLAT_WRAPPER),
    ...rtlatRuntime(PACKAGE_ROOT),
    ...host.entries,
    hostFile(guestImage, LAB_GUEST_IMAGE, 0o644),
  ]);
}

function runFiles(cwd: string, args: readonly string[], candidates: readonly string[]): GuestFile[] {
  const inputs = commandInputs(candidates).flatMap((input) => (input.kind === 'file' ? [hostFile(input.path, input.path)] : treeEntries(input.path, input.path)));
  return [
    script(LAB_ARGS_FILE, labArgsScript(cwd, args)),
    { kind: 'file', path: LAB_CANDIDATES_FILE, mode: 0o644, data: Buffer.from(candidates.map((candidate) => `${candidate}\n`).join('')) },
    ...inputs,
  ];
}

export interface Boot {
  kernel: string;
  initrd: string;
  commandLine: string;
  cpu: string;
}

/**
 * How QEMU boots the lab host. TCG's "max" CPU has SVM and NPT, which PVH and HVM guests (and KVM)
 * need; it has SMAP too, which Xen 4.17 trips over under TCG (smap=0), and XSAVE, with which Xen
 * under TCG damaged memory: with Dom0 load on a domU's physical CPU, 64 bytes at the start of a page
 * were overwritten in the domU (its run file came back with a shell's string in it) or in Dom0 (rtlat
 * died of SIGSEGV), in 4 of 14 runs of the lab test; Xen's own pcid=0 did not help, a CPU without
 * XSAVE did (0 of 8). Xen then saves vCPUs' registers with FXSAVE.
 */
export function bootOf(host: LabHost, initrd: string, accelerator: Accelerator, memoryMiB: number): Boot {
  const marker = `${LAB_PARAMETER}=${host.kind}/${accelerator}`;
  const cpu = accelerator === 'kvm' ? 'host' : host.kind === 'xen' ? 'max,-xsave' : 'max';
  if (host.kind === 'kvm') return { kernel: host.kernel, initrd, commandLine: linuxCommandLine([marker]), cpu };
  const dom0MiB = Math.max(MIN_DOM0_MIB, Math.floor(memoryMiB / 2));
  const xen = [
    'console=com1', 'com1=115200,8n1', `dom0_mem=${dom0MiB}M,max:${dom0MiB}M`, 'dom0_max_vcpus=1', 'loglvl=warning', 'guest_loglvl=warning',
    ...(accelerator === 'tcg' ? ['smap=0'] : []),
  ];
  const dom0 = ['console=hvc0', 'quiet', 'panic=-1', marker].join(' ');
  return { kernel: host.kernel, initrd: multibootModules([{ path: host.linuxKernel, args: dom0 }, { path: initrd }]), commandLine: xen.join(' '), cpu };
}

export async function runLab(options: LabOptions): Promise<LabResult> {
  const progress = options.onProgress ?? (() => {});
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const cpus = options.cpus ?? DEFAULT_LAB_CPUS;
  const memoryMiB = options.memoryMiB ?? DEFAULT_LAB_MEMORY_MIB;
  const bootTimeoutMs = options.bootTimeoutMs ?? DEFAULT_LAB_BOOT_TIMEOUT_MS;
  const rtlatCacheDir = options.cacheDir ?? defaultCacheDir();
  const cacheDir = path.join(rtlatCacheDir, 'lab');
  const qemu = findQemu(options.qemu);
  const candidates = commandLinePaths(options.args, cwd);
  const perRun = runFiles(cwd, options.args, candidates);

  const host = prepareLabHost(options.host, new DebianCache(cacheDir, progress));
  const image = labImage(host, cacheDir, baseImage(PACKAGE_ROOT, rtlatCacheDir).path);
  if (!image.reused) progress(`built the lab host's image ${image.path}`);
  const decision = await chooseAccelerator(options.accelerator ?? 'auto', qemu, host.linuxKernel, 20_000);
  const lab: LabResult['lab'] = { host: options.host, accelerator: decision.accelerator, description: host.description, packages: host.packages };
  progress(
    `booting a lab host, ${host.description}, under ${decision.accelerator.toUpperCase()} (${decision.reason}): EMULATED, ` +
      'everything measured in it is emulated and its run files say so',
  );

  const dir = mkdtempSync(path.join(tmpdir(), 'rtlat-lab-'));
  let vm: Vm | null = null;
  const deadlines = new Deadlines();
  const lastLines = () => consoleTail(vm?.lastLines(CONSOLE_LINES_IN_ERRORS) ?? []);
  try {
    const initrd = path.join(dir, 'initrd.cpio');
    writeLayeredArchive(initrd, image.path, perRun);
    const boot = bootOf(host, initrd, decision.accelerator, memoryMiB);
    const { cameUp, report, events } = channelOutcome();
    const left: string[] = [];
    const channel = new GuestChannel({ ...events, onStderr: options.onStderr, onLeft: (what) => left.push(what) });
    vm = await Vm.start({ qemu, ...boot, accelerator: decision.accelerator, vcpus: cpus, memoryMiB, dir }, { onChannel: (text) => channel.push(text), ...(options.onConsole && { onConsole: options.onConsole }) });
    const running = vm;
    const ended = (when: string) =>
      running.exited.then(({ code, signal }) => {
        throw new Error(`the lab host ended ${when} (QEMU: ${signal ?? `exit code ${code}`})${lastLines()}`);
      });
    await running.resume();
    rmSync(dir, { recursive: true, force: true });
    const release = await Promise.race([
      cameUp,
      ended('before it came up'),
      deadlines.interruptedBefore(options.signal, 'the lab host'),
      deadlines.after(bootTimeoutMs, () => `the lab host did not come up within ${formatDuration(bootTimeoutMs * NS_PER_MS)}${lastLines()}`),
    ]);
    progress(`the lab host is up (Linux ${release}): rtlat ${options.args.join(' ')}`);
    running.send(GO);
    let forwarded = 0;
    options.onCommandStarted?.((signal) => {
      forwarded++;
      const kill = signal === 'SIGKILL' || forwarded > 1;
      progress(kill ? 'killing the command (SIGKILL)' : `passing ${signal} on to the command (a second signal kills it)`);
      running.send(kill ? KILL : signal === 'SIGTERM' ? TERMINATE : STOP);
    });
    const { files, status } = await Promise.race([report, ended('before the command ended')]);
    running.send(ACK);

    const written: string[] = [];
    for (const [name, data] of Object.entries(files)) {
      if (name === STDOUT_NAME || data === undefined) continue;
      if (!isReturnable(name, candidates)) {
        progress(`left out ${name}: not at a path on the command line`);
        continue;
      }
      mkdirSync(path.dirname(name), { recursive: true });
      writeFileAtomic(name, returnedContents(name, data, lab));
      written.push(name);
    }
    await Promise.race([running.exited, deadlines.after(POWER_OFF_TIMEOUT_MS, () => 'the lab host did not power off after the command')]).catch((error: Error) => progress(error.message));
    return { status, stdout: files[STDOUT_NAME]?.toString('utf8') ?? '', files: written, left, lab };
  } finally {
    deadlines.clear();
    await vm?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
