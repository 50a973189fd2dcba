// `rtlat matrix`: the research's experiment in one command (measurement/matrix.ts). Measures the host
// (in this process), then a guest for each kernel (in Xen's Dom0, with --hypervisor xen: a domU of each
// --xen-types with each kernel), then (if asked) a container, with the same measure options and the
// same load on the host during each (or, --with-and-without-load, each twice), and (--explain) each
// run's late wake-ups explained from its own kernel's trace; writes every run file, the research's
// tables (rtlat compare --matrix) and the HTML report into one folder. A run that fails is reported and
// the others still go ahead.
import path from 'node:path';
import { Command } from 'commander';
import { OptionError } from '../errors.js';
import { runMatrix, type MatrixKernel } from '../measurement/matrix.js';
import { writeFileAtomic } from '../outputs/atomic-file.js';
import { buildMatrix, formatMatrix } from '../outputs/compare/kernel-table.js';
import { formatHostExplain } from '../outputs/explain.js';
import { formatMeasureStdout } from '../outputs/measure-stdout.js';
import { checkOutputFolder } from '../outputs/output-path.js';
import { renderReport } from '../outputs/report/report.js';
import { writeRunFile } from '../outputs/run-json.js';
import { labelRuns } from '../run-file/environment.js';
import { checkKernelImage, findQemu, XEN_GUEST_TYPES, type XenGuestType } from '../targets/index.js';
import { parseInteger } from '../units.js';
import { RTLAT_VERSION } from '../version.js';
import { commandLine } from './command-line.js';
import { EXIT, reportError, UsageError } from './exit.js';
import {
  addGuestOptions,
  addMeasureOptions,
  collect,
  explainImpliedArgs,
  HOST_OUTPUTS_AND_LOAD,
  measureArgsOf,
  measureFlagsOf,
  NOT_TO_MATRIX_GUESTS,
  parseGuestFlags,
  parseMeasureFlags,
  type GuestFlags,
} from './options.js';
import { onStopSignals } from './signals.js';
import { writeStdout } from './stdout.js';

interface MatrixFlags extends GuestFlags {
  output: string;
  kernels?: string;
  xenTypes: string;
  withAndWithoutLoad?: boolean;
  guestCpus: string;
  container?: string;
  engine: string;
  engineArg: string[];
}

/** "nrt=/boot/vmlinuz-a,rt=/boot/vmlinuz-b" */
function parseKernels(text: string): MatrixKernel[] {
  const accepted = 'LABEL=PATH[,LABEL=PATH...] with distinct labels of letters, digits, - and _, e.g. nrt=/boot/vmlinuz-6.1,rt=/boot/vmlinuz-6.1-rt';
  const kernels = text.split(',').map((pair) => {
    const match = /^([\w-]+)=(.+)$/.exec(pair.trim());
    if (!match) throw new OptionError('kernels', text, accepted);
    return { label: match[1]!, path: path.resolve(match[2]!) };
  });
  if (new Set(kernels.map((kernel) => kernel.label)).size !== kernels.length) throw new OptionError('kernels', text, accepted);
  for (const kernel of kernels) {
    checkKernelImage('kernels', kernel.path);
  }
  return kernels;
}

/** --xen-types for --hypervisor xen; null for QEMU's guests. */
function parseXenTypes(flags: MatrixFlags, command: Command): XenGuestType[] | null {
  if (flags.hypervisor !== 'xen') {
    if (command.getOptionValueSource('xenTypes') === 'cli') throw new UsageError('--xen-types is for Xen guests: give --hypervisor xen too');
    return null;
  }
  const types = flags.xenTypes.split(',').map((type) => type.trim());
  if (types.some((type) => !(XEN_GUEST_TYPES as readonly string[]).includes(type)) || new Set(types).size !== types.length) {
    throw new OptionError('xen-types', flags.xenTypes, 'distinct Xen guest types of pv, pvh and hvm, comma-separated, e.g. pv,pvh,hvm');
  }
  return types as XenGuestType[];
}

export function matrixCommand(): Command {
  const command = new Command('matrix')
    .description(
      'Measure the host, a guest for each kernel (rtlat guest; in Xen\'s Dom0 a domU of each type) and a container, with the same ' +
        'options and host load (or each without and with it); write the runs, the research\'s tables and the HTML report into one folder.',
    )
    .requiredOption('-o, --output <dir>', 'the folder for everything written (created if missing)')
    .option('--kernels <list>', 'guest kernels as LABEL=PATH, comma-separated, e.g. nrt=/boot/vmlinuz-6.1,rt=/boot/vmlinuz-6.1-rt')
    .option('--guest-cpus <n>', 'vCPUs of each guest', '1')
    .option('--xen-types <list>', 'with --hypervisor xen (run in Dom0): the domU types, each measured with each kernel', XEN_GUEST_TYPES.join(','))
    .option('--with-and-without-load', 'measure each step twice: without --load, then with it (files NAME.json and NAME-load.json)')
    .option('--container <image>', 'also measure in a container of this image (the Dockerfile\'s)')
    .option('--engine <command>', 'the container engine: podman or docker', 'podman')
    .option('--engine-arg <arg>', 'one more option for the engine\'s run, e.g. --engine-arg=--ulimit=nofile=1024 (repeatable)', collect, []);
  addGuestOptions(command);
  addMeasureOptions(command, (name) => !HOST_OUTPUTS_AND_LOAD.includes(name));
  return command.action(async (flags: MatrixFlags) => {
    process.exitCode = await matrix(flags, command);
  });
}

async function matrix(flags: MatrixFlags, command: Command): Promise<number> {
  const stop = new AbortController();
  let stopListening = () => {};
  try {
    if (!flags.kernels && !flags.container) throw new UsageError('nothing to compare the host with: give --kernels, --container, or both');
    // --explain-host implies --explain: the host and every guest explain, as if it were given.
    const implied = explainImpliedArgs(command);
    const { probe: hostOptions, outputs: hostOutputs, explain } = parseMeasureFlags({ ...measureFlagsOf(command, HOST_OUTPUTS_AND_LOAD), ...(implied.length > 0 && { explain: true }) });
    const { load, ...guest } = parseGuestFlags(flags, command);
    // The host and each guest trace their own kernel; a container has no tracefs of its own to read.
    if (explain && flags.container !== undefined) throw new UsageError('--explain traces the kernel where each run measures, which a container cannot (no tracefs inside): drop --container or --explain');
    const kernels = flags.kernels === undefined ? [] : parseKernels(flags.kernels);
    const xenTypes = parseXenTypes(flags, command);
    if (xenTypes !== null && kernels.length === 0) throw new UsageError('--hypervisor xen measures a domU of each --xen-types with each kernel: give --kernels');
    if (flags.withAndWithoutLoad && !load) throw new UsageError('--with-and-without-load measures each step with --load and without it: give --load');
    // Found now, so that a missing QEMU is said before the host is measured (Xen's guests need none here).
    if (kernels.length > 0 && xenTypes === null) guest.qemu ??= findQemu();
    const vcpus = parseInteger('guest-cpus', flags.guestCpus, 1, 256);
    const measureArgs = [...measureArgsOf(command, HOST_OUTPUTS_AND_LOAD), ...implied];
    const dir = checkOutputFolder('output', flags.output);
    const say = (line: string) => process.stderr.write(`rtlat matrix: ${line}\n`);

    stopListening = onStopSignals(() => stop.abort());
    const { measured, failed } = await runMatrix(
      {
        dir,
        // As `rtlat measure` with the same options would have measured it, and says so.
        host: { ...hostOptions, explain, commandLine: commandLine('rtlat', ['measure', ...measureArgs, '--json', path.join(dir, 'host.json')]) },
        kernels,
        guest: { ...guest, vcpus, measureArgs: [...measureArgsOf(command, NOT_TO_MATRIX_GUESTS), ...implied], commandLine: commandLine() },
        container: flags.container === undefined ? null : { engine: flags.engine, image: flags.container, measureArgs, engineArgs: flags.engineArg },
        load: load ?? null,
        withAndWithoutLoad: flags.withAndWithoutLoad === true,
        xen: xenTypes === null ? null : { types: xenTypes, kernelModules: flags.kernelModules ?? null },
        signal: stop.signal,
      },
      {
        onProgress: say,
        onRun: async (step, run, stdout) => {
          if (run) writeRunFile(step.file, run);
          await writeStdout(`== ${step.name}\n${stdout ?? (run ? formatMeasureStdout(run, hostOutputs) : '')}${formatHostExplain(run?.explain)}`);
        },
      },
    );

    if (measured.length > 0) {
      const runs = labelRuns(measured.map(({ step, run }) => ({ file: step.file, run })));
      const table = formatMatrix(buildMatrix(runs), 'text');
      writeFileAtomic(path.join(dir, 'matrix.txt'), table);
      writeFileAtomic(path.join(dir, 'report.html'), renderReport(runs, { title: 'rtlat matrix', rtlatVersion: RTLAT_VERSION }));
      await writeStdout(`\n${table}`);
      say(`wrote ${measured.map(({ step }) => path.basename(step.file)).join(', ')}, matrix.txt and report.html in ${dir}`);
    }
    if (failed.length > 0) throw new Error(`${failed.map(({ step }) => step.name).join(', ')} failed (above)`);
    return EXIT.ok;
  } catch (error) {
    return reportError('matrix', error);
  } finally {
    stopListening();
  }
}
