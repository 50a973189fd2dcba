// `rtlat lab --host xen|kvm -- COMMAND...`: runs one rtlat command in an emulated Xen or KVM host
// (src/targets/lab), passing its output and files through; its exit status is rtlat lab's.
import { Command, Option } from 'commander';
import { OptionError } from '../errors.js';
import { DEFAULT_LAB_BOOT_TIMEOUT_MS, DEFAULT_LAB_CPUS, DEFAULT_LAB_MEMORY_MIB, LAB_HOST_KINDS, runLab, type ForwardedSignal, type LabHostKind } from '../targets/index.js';
import { DURATION_RULE, NS_PER_MS, parseDurationNs, parseInteger } from '../units.js';
import { reportError, UsageError } from './exit.js';
import { parseMemoryMiB } from './options.js';

interface LabFlags {
  host: LabHostKind;
  cpus: string;
  memory: string;
  accel: 'auto' | 'kvm' | 'tcg';
  qemu?: string;
  bootTimeout: string;
  console?: boolean;
}

export function labCommand(): Command {
  const command = new Command('lab')
    .description(
      'Boot an emulated Xen host (with a Dom0) or KVM host under QEMU, from Debian packages it fetches and caches, and run one ' +
        'rtlat command in it: its files come in and go out by the paths on its command line, its exit status is this one\'s. ' +
        'Everything measured in it is emulated, and its run files say so.',
    )
    .addOption(new Option('--host <kind>', 'the kind of host').choices([...LAB_HOST_KINDS]).makeOptionMandatory())
    .option('--cpus <n>', 'the lab host\'s CPUs (Xen\'s physical CPUs)', `${DEFAULT_LAB_CPUS}`)
    .option('--memory <size>', 'the lab host\'s memory (Xen: Dom0 gets half, at least 1G)', `${DEFAULT_LAB_MEMORY_MIB / 1024}G`)
    .addOption(new Option('--accel <accel>', 'how QEMU runs the lab host: KVM, TCG, or KVM when a probe boot comes up with it').choices(['auto', 'kvm', 'tcg']).default('auto'))
    .option('--qemu <path>', 'the QEMU binary (default: qemu-system-x86_64 on PATH)')
    .option('--boot-timeout <time>', 'give up when the lab host has not come up in this time', `${DEFAULT_LAB_BOOT_TIMEOUT_MS / 1000}s`)
    .option('--console', 'also print the lab host\'s console (Xen\'s and its kernel\'s messages) on stderr')
    .argument('<command...>', 'the rtlat command to run in the lab host, after --, e.g. -- guest --hypervisor xen --xen-type pvh ...');
  return command.action(async (args: string[], flags: LabFlags) => {
    process.exitCode = await lab(args, flags);
  });
}

async function lab(args: string[], flags: LabFlags): Promise<number> {
  const stop = new AbortController();
  let forward: ((signal: ForwardedSignal) => void) | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (forward) forward(signal === 'SIGTERM' ? 'SIGTERM' : 'SIGINT');
    else stop.abort();
  };
  const say = (line: string) => process.stderr.write(`rtlat lab: ${line}\n`);
  try {
    if (args[0] === 'lab') throw new UsageError('a lab inside a lab is not supported: give the command to run in it');
    const memoryMiB = parseMemoryMiB(flags.memory);
    if (memoryMiB < 2048) throw new OptionError('memory', flags.memory, 'at least 2G for a lab host');
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const result = await runLab({
      host: flags.host,
      args,
      cpus: parseInteger('cpus', flags.cpus, 1, 64),
      memoryMiB,
      accelerator: flags.accel,
      ...(flags.qemu !== undefined && { qemu: flags.qemu }),
      bootTimeoutMs: parseDurationNs('boot-timeout', flags.bootTimeout, DURATION_RULE) / NS_PER_MS,
      signal: stop.signal,
      onCommandStarted: (send) => (forward = send),
      onProgress: say,
      onStderr: (line) => process.stderr.write(`${line}\n`),
      ...(flags.console && { onConsole: (text: string) => process.stderr.write(text) }),
    });
    process.stdout.write(result.stdout);
    if (result.files.length > 0) say(`brought back ${result.files.join(', ')}`);
    say(result.left.length === 0 ? 'nothing of the command was left running in the lab host' : `left running in the lab host after the command: ${result.left.join(', ')}`);
    say(`EMULATED: measured in a lab host (${result.lab.description}) under ${result.lab.accelerator.toUpperCase()}; the latencies are the emulation's, not real hardware's`);
    return result.status;
  } catch (error) {
    return reportError('lab', error);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
