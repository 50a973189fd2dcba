// `rtlat guest`: boot a kernel with QEMU and run `rtlat measure` inside it; the run file lands on the
// host. Takes measure's own options (forwarded to the guest) and the guest's; `rtlat matrix` reuses
// both sets from here.
import { Command, Option } from 'commander';
import { writeFileAtomic } from '../outputs/atomic-file.js';
import { OptionError } from '../errors.js';
import { parseExtraFile } from '../guest/initramfs.js';
import { DEFAULT_BOOT_TIMEOUT_MS, DEFAULT_MEMORY_MIB, DEFAULT_VCPUS, findQemu, runGuest, type GuestOptions, type GuestResult } from '../guest/run.js';
import { labelRuns } from '../compare/environment.js';
import { renderReport } from '../report/report.js';
import { RTLAT_VERSION } from '../version.js';
import { parseLoadSpec } from '../load/index.js';
import { DURATION_RULE, NS_PER_MS, parseCpuList, parseDurationNs, parseInteger } from '../units.js';
import { commandLine } from './command-line.js';
import { EXIT, reportError, UsageError } from './errors.js';
import { checkKernelImage } from '../guest/kernel-image.js';
import { XEN_GUEST_TYPES, type XenGuestType } from '../targets/xen/config.js';
import { runXenGuest, type XenGuestOptions } from '../targets/xen/run.js';
import { addMeasureOptions, measureCommand, parseMeasureFlags } from './measure.js';
import { checkOutputPath } from '../outputs/output-path.js';
import { collect } from './run-files.js';
import { onStopSignals } from './signals.js';
import { writeStdout } from './stdout.js';

/** measure's options that stay on the host: the outputs (the guest's come back) and the load. */
export const HOST_OUTPUTS_AND_LOAD: readonly string[] = ['json', 'hdrLog', 'report', 'load', 'loadCpus'];
/** `rtlat guest`'s --cpus is the number of vCPUs (rtlat measures on each); --main-cpus goes in and names guest CPUs. */
const GUEST_HOST_SIDE: readonly string[] = [...HOST_OUTPUTS_AND_LOAD, 'cpus'];
/** `rtlat matrix`'s --cpus and --main-cpus name the host's CPUs: they mean nothing in its guests. */
export const NOT_TO_MATRIX_GUESTS: readonly string[] = [...GUEST_HOST_SIDE, 'mainCpus'];

/** The measure options given on the command line (but those in `except`), as arguments for `rtlat measure`. */
export function measureArgsOf(command: Command, except: readonly string[]): string[] {
  const args: string[] = [];
  for (const option of measureCommand().options) {
    const name = option.attributeName();
    if (except.includes(name) || command.getOptionValueSource(name) !== 'cli') continue;
    const value: unknown = command.getOptionValue(name);
    // A flag (--aligned) or its negation (--no-mlock) takes no value.
    if (option.isBoolean() || option.negate) args.push(option.long!);
    else args.push(option.long!, String(value));
  }
  return args;
}

/** Checks the measure options on this side, so that a mistake is a usage error before anything starts. */
export function checkMeasureOptions(command: Command, except: readonly string[]): void {
  const flags = Object.fromEntries(measureCommand().options.map((option) => [option.attributeName(), command.getOptionValue(option.attributeName())]));
  for (const name of except) delete flags[name];
  parseMeasureFlags(flags as Parameters<typeof parseMeasureFlags>[0]);
}

export interface GuestFlags {
  hypervisor: 'qemu' | 'xen';
  kernelModules?: string;
  accel: 'auto' | 'kvm' | 'tcg';
  memory: string;
  pinVcpus?: string;
  qemuPriority?: string;
  initrdExtra: string[];
  kernelArgs?: string;
  qemu?: string;
  bootTimeout: string;
  load?: string;
  loadCpus?: string;
}

/** The options of a guest's set-up, shared by `rtlat guest` and `rtlat matrix`. */
export function addGuestOptions(command: Command): Command {
  return command
    .addOption(new Option('--hypervisor <kind>', 'qemu (KVM or TCG, from this host) or xen (a domU, from Dom0)').choices(['qemu', 'xen']).default('qemu'))
    .option('--memory <size>', 'guest memory: MiB, or with M or G', `${DEFAULT_MEMORY_MIB}M`)
    .option('--pin-vcpus <list>', 'host (Xen: physical) CPUs to pin the vCPUs to, vCPU i on the i-th (round-robin), e.g. 2-3')
    .option('--qemu-priority <prio>', 'run every vCPU thread (Xen HVM: every thread of the device model) at SCHED_FIFO with this priority (1-99) while the guest measures')
    .option('--kernel-modules <dir>', 'xen HVM: the guest kernel\'s modules folder, for its xen-blkfront (default /lib/modules/RELEASE)')
    .addOption(new Option('--accel <accel>', 'KVM, TCG, or KVM when a short probe boot comes up with it').choices(['auto', 'kvm', 'tcg']).default('auto'))
    .option('--initrd-extra <host[:guest]>', 'add a file or folder of the host to the guest (repeatable)', collect, [])
    .option('--kernel-args <text>', 'more of the guest kernel\'s command line, e.g. "isolcpus=1 nohz_full=1"')
    .option('--qemu <path>', 'the QEMU binary (default: qemu-system-x86_64 on PATH)')
    .option('--boot-timeout <time>', 'give up when the guest has not come up in this time', `${DEFAULT_BOOT_TIMEOUT_MS / 1000}s`)
    .option('--load <kinds>', 'run load generators on the host (Xen: in Dom0) while the guest measures (see rtlat measure --load)')
    .option('--load-cpus <list>', 'host CPUs for the load (Xen: physical CPUs Dom0\'s vCPUs are pinned to for it); default: those of --pin-vcpus, else every CPU');
}

const MEMORY = /^(\d+)([mg]?)$/i;

export function parseMemoryMiB(text: string): number {
  const match = MEMORY.exec(text.trim());
  const mib = match ? Number(match[1]) * (match[2]!.toLowerCase() === 'g' ? 1024 : 1) : NaN;
  if (!Number.isSafeInteger(mib) || mib < 128 || mib > 1024 * 1024) throw new OptionError('memory', text, 'a size from 128M to 1024G, e.g. 1024, 512M or 2G');
  return mib;
}

/** The guest set-up of `flags`, checked. */
export function parseGuestFlags(flags: GuestFlags, command: Command): Omit<GuestOptions, 'kernel' | 'measureArgs' | 'commandLine'> {
  if (flags.loadCpus !== undefined && flags.load === undefined) throw new OptionError('load-cpus', flags.loadCpus, 'a CPU list together with --load');
  if (flags.load !== undefined) parseLoadSpec(flags.load);
  const given = (name: string) => command.getOptionValueSource(name) === 'cli';
  if (flags.hypervisor === 'xen') {
    for (const [name, option] of [['accel', '--accel'], ['qemu', '--qemu']] as const) {
      if (given(name)) throw new UsageError(`${option} is for QEMU's guests; a Xen guest runs on Xen (--hypervisor xen)`);
    }
  } else if (flags.kernelModules !== undefined) {
    throw new UsageError('--kernel-modules is for Xen HVM guests (--hypervisor xen --xen-type hvm)');
  }
  return {
    accelerator: flags.accel,
    memoryMiB: parseMemoryMiB(flags.memory),
    pinVcpus: flags.pinVcpus === undefined ? null : parseCpuList('pin-vcpus', flags.pinVcpus),
    qemuPriority: flags.qemuPriority === undefined ? null : parseInteger('qemu-priority', flags.qemuPriority, 1, 99),
    extras: flags.initrdExtra.map(parseExtraFile),
    kernelArgs: flags.kernelArgs === undefined ? [] : flags.kernelArgs.split(/\s+/).filter(Boolean),
    ...(flags.qemu !== undefined && { qemu: findQemu(flags.qemu) }),
    bootTimeoutMs: parseDurationNs('boot-timeout', flags.bootTimeout, DURATION_RULE) / NS_PER_MS,
    load: flags.load === undefined ? null : { spec: flags.load, cpus: flags.loadCpus === undefined ? null : parseCpuList('load-cpus', flags.loadCpus) },
  };
}

interface GuestCommandFlags extends GuestFlags {
  kernel: string;
  xenType?: XenGuestType;
  cpus: string;
  mainCpus?: string;
  json?: string;
  hdrLog?: string;
  report?: string;
  quiet?: boolean;
}

interface GuestOutputs {
  jsonPath: string | null;
  hdrLogPath: string | null;
  reportPath: string | null;
}

export function guestCommand(): Command {
  const command = new Command('guest')
    .description(
      'Boot a kernel with QEMU and measure inside it (rtlat measure\'s options apply in the guest). KVM when a probe boot ' +
        'works with it, else TCG: emulated, and the run file says so.',
    )
    .requiredOption('--kernel <vmlinuz>', 'the guest kernel (e.g. /boot/vmlinuz-*; modules are not needed)')
    .addOption(new Option('--xen-type <type>', 'with --hypervisor xen: the kind of domU').choices([...XEN_GUEST_TYPES]))
    .option('--cpus <n>', 'number of vCPUs (rtlat measures on each by default)', `${DEFAULT_VCPUS}`)
    .option('--json <file>', 'write the guest\'s run as JSON on the host')
    .option('--hdr-log <file>', 'write the guest\'s HdrHistogram interval log on the host')
    .option('--report <file>', 'write an HTML report of the guest\'s run on the host (as rtlat report)');
  addGuestOptions(command);
  addMeasureOptions(command, (name) => !GUEST_HOST_SIDE.includes(name));
  return command.action(async (flags: GuestCommandFlags) => {
    process.exitCode = await guest(flags, command);
  });
}

async function guest(flags: GuestCommandFlags, command: Command): Promise<number> {
  const stop = new AbortController();
  let stopListening = () => {};
  const onSignal = () => stop.abort();
  try {
    checkMeasureOptions(command, GUEST_HOST_SIDE);
    if (flags.hypervisor === 'xen' && flags.xenType === undefined) throw new UsageError('--hypervisor xen needs --xen-type pv, pvh or hvm');
    if (flags.hypervisor !== 'xen' && flags.xenType !== undefined) throw new UsageError('--xen-type is for Xen guests: give --hypervisor xen too');
    const vcpus = parseInteger('cpus', flags.cpus, 1, 256);
    if (flags.mainCpus !== undefined && parseCpuList('main-cpus', flags.mainCpus).some((cpu) => cpu >= vcpus)) {
      throw new OptionError('main-cpus', flags.mainCpus, `guest CPUs, from 0 to ${vcpus - 1} (the guest has --cpus ${vcpus})`);
    }
    const outputs: GuestOutputs = {
      jsonPath: flags.json === undefined ? null : checkOutputPath('json', flags.json),
      hdrLogPath: flags.hdrLog === undefined ? null : checkOutputPath('hdr-log', flags.hdrLog),
      reportPath: flags.report === undefined ? null : checkOutputPath('report', flags.report),
    };
    const guestFlags = parseGuestFlags(flags, command);
    const options: GuestOptions = {
      ...guestFlags,
      kernel: checkKernelImage('kernel', flags.kernel),
      // A missing QEMU is said by runGuest after the options are checked, before the guest's image is built.
      vcpus,
      measureArgs: measureArgsOf(command, GUEST_HOST_SIDE),
      hdrLog: outputs.hdrLogPath !== null,
      commandLine: commandLine(),
      signal: stop.signal,
      onProgress: (line) => {
        // Emulation is said even with --quiet: it changes what the numbers mean.
        if (!flags.quiet || line.includes('EMULATED')) process.stderr.write(`rtlat guest: ${line}\n`);
      },
    };
    stopListening = onStopSignals(onSignal);
    const result = flags.hypervisor === 'xen' ? await runXenGuest(xenGuestOptions(options, flags.xenType!, flags.kernelModules)) : await runGuest(options);
    await writeGuestOutputs(result, outputs);
    return result.status;
  } catch (error) {
    return reportError('guest', error);
  } finally {
    stopListening();
  }
}

/** A Xen guest's options from the same flags as a QEMU guest's (those for QEMU itself left out). */
export function xenGuestOptions(options: GuestOptions, type: XenGuestType, kernelModules: string | undefined): XenGuestOptions {
  const { qemu: _qemu, accelerator: _accelerator, ...setup } = options;
  return { ...setup, type, kernelModules: kernelModules ?? null };
}

async function writeGuestOutputs(result: GuestResult, { jsonPath, hdrLogPath, reportPath }: GuestOutputs): Promise<void> {
  await writeStdout(result.stdout);
  process.stderr.write(result.stderr);
  if (result.run && jsonPath) writeFileAtomic(jsonPath, `${JSON.stringify(result.run, null, 2)}\n`);
  if (result.hdrLog && hdrLogPath) writeFileAtomic(hdrLogPath, result.hdrLog);
  if (result.run && reportPath) {
    writeFileAtomic(reportPath, renderReport(labelRuns([{ file: jsonPath ?? 'guest run', run: result.run }]), { rtlatVersion: RTLAT_VERSION }));
  }
  if (result.info.hypervisor === 'xen') {
    if (result.info.emulated) process.stderr.write(`rtlat guest: EMULATED: ${result.info.emulation}; these latencies are the emulation's, not Xen's on real hardware\n`);
  } else if (result.info.emulated) {
    process.stderr.write('rtlat guest: EMULATED: measured under TCG, not a hypervisor; these latencies are QEMU\'s emulator\'s\n');
  }
  if (result.status === EXIT.ok && result.run === null) throw new Error('the guest measured but sent no run file back');
}
