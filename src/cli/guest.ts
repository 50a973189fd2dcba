// `rtlat guest`: boot a kernel with QEMU (or, from Xen's Dom0, a domU) and run `rtlat measure` inside it;
// the run file lands on the host. Takes measure's own options (forwarded to the guest) and the guest's
// (both sets defined in options.ts, which `rtlat matrix` shares).
import { Command, Option } from 'commander';
import { OptionError } from '../errors.js';
import { withHostSummary } from '../measurement/explain/host.js';
import { writeFileAtomic } from '../outputs/atomic-file.js';
import { formatHostExplain } from '../outputs/explain.js';
import { renderReport } from '../outputs/report/report.js';
import { writeRunFile } from '../outputs/run-json.js';
import { labelRuns } from '../run-file/environment.js';
import { checkKernelImage, DEFAULT_VCPUS, runGuest, runXenGuest, XEN_GUEST_TYPES, xenGuestOptions, type GuestOptions, type GuestResult, type XenGuestType } from '../targets/index.js';
import { parseCpuList, parseInteger } from '../units.js';
import { RTLAT_VERSION } from '../version.js';
import { commandLine } from './command-line.js';
import { EXIT, reportError, UsageError } from './exit.js';
import { addGuestOptions, addMeasureOptions, checkMeasureOptions, explainImpliedArgs, GUEST_HOST_SIDE, measureArgsOf, parseGuestFlags, type GuestFlags } from './options.js';
import { checkOutputPath } from '../outputs/output-path.js';
import { onStopSignals } from './signals.js';
import { writeStdout } from './stdout.js';

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
        'works with it, else TCG: emulated, and the run file says so. From Xen\'s Dom0, --hypervisor xen measures in a domU.',
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
      measureArgs: [...measureArgsOf(command, GUEST_HOST_SIDE), ...explainImpliedArgs(command)],
      hdrLog: outputs.hdrLogPath !== null,
      commandLine: commandLine(),
      signal: stop.signal,
      onProgress: (line) => {
        // Emulation is said even with --quiet: it changes what the numbers mean.
        if (!flags.quiet || line.includes('EMULATED')) process.stderr.write(`rtlat guest: ${line}\n`);
      },
    };
    stopListening = onStopSignals(onSignal);
    const result = withHostSummary(flags.hypervisor === 'xen' ? await runXenGuest(xenGuestOptions(options, flags.xenType!, flags.kernelModules)) : await runGuest(options));
    await writeGuestOutputs(result, outputs);
    return result.status;
  } catch (error) {
    return reportError('guest', error);
  } finally {
    stopListening();
  }
}

async function writeGuestOutputs(result: GuestResult, { jsonPath, hdrLogPath, reportPath }: GuestOutputs): Promise<void> {
  await writeStdout(result.stdout + formatHostExplain(result.run?.explain));
  process.stderr.write(result.stderr);
  if (result.run && jsonPath) writeRunFile(jsonPath, result.run);
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
