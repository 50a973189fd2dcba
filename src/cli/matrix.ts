// `rtlat matrix`: the research's experiment in one command. Measures the host, then a guest for each
// kernel (in Xen's Dom0, with --hypervisor xen: a domU of each --xen-types with each kernel), then (if
// asked) a container, with the same measure options and the same load on the host during each (or,
// with --with-and-without-load, each of them twice), and writes every run file, the research's tables
// (rtlat compare --matrix) and the HTML report into one folder. A run that fails is reported and the
// others still go ahead.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { writeFileAtomic } from '../outputs/atomic-file.js';
import { buildMatrix, formatMatrix } from '../compare/matrix.js';
import { labelRuns } from '../compare/environment.js';
import { readRunFile } from '../compare/read.js';
import { CONTAINER_OUT_DIR, runContainer } from '../container/run.js';
import { OptionError } from '../errors.js';
import { checkKernelImage } from '../guest/kernel-image.js';
import { findQemu, runGuest, type GuestOptions } from '../guest/run.js';
import { XEN_GUEST_TYPES, type XenGuestType } from '../targets/xen/config.js';
import { runXenGuest, startDom0Load } from '../targets/xen/run.js';
import { startLoad, type LoadHandle } from '../load/index.js';
import { renderReport } from '../report/report.js';
import type { RunFile } from '../run.js';
import { usableCpus } from '../system.js';
import { parseCpuList, parseInteger } from '../units.js';
import { RTLAT_VERSION } from '../version.js';
import { commandLine } from './command-line.js';
import { EXIT, reportError, UsageError } from './errors.js';
import { addMeasureOptions } from './measure.js';
import { addGuestOptions, checkMeasureOptions, HOST_OUTPUTS_AND_LOAD, measureArgsOf, NOT_TO_MATRIX_GUESTS, parseGuestFlags, xenGuestOptions, type GuestFlags } from './guest.js';
import { collect } from './run-files.js';
import { onStopSignals } from './signals.js';
import { writeStdout } from './stdout.js';
import { OutputError } from '../outputs/atomic-file.js';
import { checkOutputFolder } from '../outputs/output-path.js';

interface MatrixFlags extends GuestFlags {
  output: string;
  kernels?: string;
  xenTypes: string;
  withAndWithoutLoad?: boolean;
  guestCpus: string;
  container?: string;
  engine: string;
  engineArg: string[];
  cpus?: string;
}

interface Kernel {
  label: string;
  path: string;
}

const RTLAT_BIN = path.resolve(import.meta.dirname, '../../bin/rtlat');

/** "nrt=/boot/vmlinuz-a,rt=/boot/vmlinuz-b" */
function parseKernels(text: string): Kernel[] {
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

type GuestLoad = NonNullable<GuestOptions['load']>;
type Outcome = { stdout: string; stderr: string; status: number | null };

/** One entry of the experiment: its file, and how to measure it. */
interface Step {
  name: string;
  file: string;
  measure: (signal: AbortSignal) => Promise<Outcome>;
  /** The load runs on the host around the step (guests start theirs when they are up). */
  hostLoad: boolean;
  load: GuestLoad | null;
}

/** A step before its load is chosen: its file's name without .json, and how to measure into a file with a load. */
interface BaseStep {
  name: string;
  file: string;
  hostLoad: boolean;
  measure: (file: string, load: GuestLoad | null) => (signal: AbortSignal) => Promise<Outcome>;
}

/** --xen-types for --hypervisor xen (default all three); null for QEMU's guests. */
function parseXenTypes(flags: MatrixFlags, command: Command): XenGuestType[] | null {
  if (flags.hypervisor !== 'xen') {
    if (command.getOptionValueSource('xenTypes') === 'cli') throw new UsageError('--xen-types is for Xen guests: give --hypervisor xen too');
    return null;
  }
  const types = flags.xenTypes.split(',').map((type) => type.trim());
  if (types.length === 0 || types.some((type) => !(XEN_GUEST_TYPES as readonly string[]).includes(type)) || new Set(types).size !== types.length) {
    throw new OptionError('xen-types', flags.xenTypes, 'distinct Xen guest types of pv, pvh and hvm, comma-separated, e.g. pv,pvh,hvm');
  }
  return types as XenGuestType[];
}

async function matrix(flags: MatrixFlags, command: Command): Promise<number> {
  const stop = new AbortController();
  let stopListening = () => {};
  const onSignal = () => stop.abort();
  try {
    if (!flags.kernels && !flags.container) throw new UsageError('nothing to compare the host with: give --kernels, --container, or both');
    checkMeasureOptions(command, HOST_OUTPUTS_AND_LOAD);
    const kernels = flags.kernels === undefined ? [] : parseKernels(flags.kernels);
    const guest = parseGuestFlags(flags, command);
    // Found now, so that a missing QEMU is said before the host is measured (Xen's guests need none here).
    if (kernels.length > 0 && flags.hypervisor !== 'xen') guest.qemu ??= findQemu();
    const vcpus = parseInteger('guest-cpus', flags.guestCpus, 1, 256);
    const hostCpus = flags.cpus === undefined ? null : parseCpuList('cpus', flags.cpus);
    const measureArgs = measureArgsOf(command, HOST_OUTPUTS_AND_LOAD);
    const guestMeasureArgs = measureArgsOf(command, NOT_TO_MATRIX_GUESTS);
    const dir = checkOutputFolder('output', flags.output);
    const say = (line: string) => process.stderr.write(`rtlat matrix: ${line}\n`);

    const xenTypes = parseXenTypes(flags, command);
    if (xenTypes !== null && kernels.length === 0) throw new UsageError('--hypervisor xen measures a domU of each --xen-types with each kernel: give --kernels');
    if (flags.withAndWithoutLoad && guest.load == null) throw new UsageError('--with-and-without-load measures each step with --load and without it: give --load');
    const guestRun = (kernel: Kernel, type: XenGuestType | null, file: string, load: GuestLoad | null) => async (signal: AbortSignal) => {
      const name = type === null ? `guest ${kernel.label}` : `xen ${type} ${kernel.label}`;
      const options: GuestOptions = {
        ...guest,
        load,
        kernel: kernel.path,
        vcpus,
        measureArgs: guestMeasureArgs,
        commandLine: commandLine(),
        signal,
        onProgress: (line) => say(`${name}: ${line}`),
      };
      const result = type === null ? await runGuest(options) : await runXenGuest(xenGuestOptions(options, type, flags.kernelModules));
      if (result.run) writeFileAtomic(file, `${JSON.stringify(result.run, null, 2)}\n`);
      return result;
    };

    const bases: BaseStep[] = [
      { name: 'host', file: 'host', hostLoad: true, measure: (file) => (signal) => runRtlat(['measure', ...measureArgs, '--json', file], signal) },
      ...kernels.flatMap((kernel) =>
        (xenTypes ?? [null]).map(
          (type): BaseStep => ({
            name: type === null ? `guest ${kernel.label}` : `xen ${type} ${kernel.label}`,
            file: type === null ? `guest-${kernel.label}` : `xen-${type}-${kernel.label}`,
            hostLoad: false,
            measure: (file, load) => guestRun(kernel, type, file, load),
          }),
        ),
      ),
      ...(flags.container === undefined
        ? []
        : [
            {
              name: 'container',
              file: 'container',
              hostLoad: true,
              measure: (file: string) => (signal: AbortSignal) =>
                runContainer({
                  signal,
                  engine: flags.engine,
                  image: flags.container!,
                  args: ['measure', ...measureArgs, '--json', `${CONTAINER_OUT_DIR}/${path.basename(file)}`],
                  cpus: hostCpus,
                  outDir: dir,
                  engineArgs: flags.engineArg,
                }),
            },
          ]),
    ];
    // Each step once with the load as given, or (--with-and-without-load) without it and then with it.
    const loads: (GuestLoad | null)[] = flags.withAndWithoutLoad ? [null, guest.load!] : [guest.load ?? null];
    const steps: Step[] = bases.flatMap((base) =>
      loads.map((load) => {
        const suffix = flags.withAndWithoutLoad && load !== null ? '-load' : '';
        const file = path.join(dir, `${base.file}${suffix}.json`);
        return { name: `${base.name}${suffix ? ' with load' : ''}`, file, hostLoad: base.hostLoad, load, measure: base.measure(file, load) };
      }),
    );

    stopListening = onStopSignals(onSignal);
    const measured: Step[] = [];
    const failed: string[] = [];
    for (const step of steps) {
      if (stop.signal.aborted) break;
      say(`${step.name}: measuring`);
      try {
        await measureStep(step, stop.signal, (load) => (xenTypes === null ? startLoad(load.spec, { cpus: load.cpus ?? hostCpus ?? usableCpus().allowed }) : startDom0Load(load.spec, load.cpus).then(({ load: handle }) => handle)));
        measured.push(step);
      } catch (error) {
        // A file that cannot be written (a full disk) would fail every step after it too.
        if (error instanceof OutputError) throw error;
        failed.push(step.name);
        say(`${step.name}: ${(error as Error).message.split('\n')[0]}`);
      }
    }

    if (measured.length > 0) {
      const runs = labelRuns(measured.map((step) => readRunFile(step.file)));
      const table = formatMatrix(buildMatrix(runs), 'text');
      writeFileAtomic(path.join(dir, 'matrix.txt'), table);
      writeFileAtomic(path.join(dir, 'report.html'), renderReport(runs, { title: 'rtlat matrix', rtlatVersion: RTLAT_VERSION }));
      await writeStdout(`\n${table}`);
      say(`wrote ${measured.map((step) => path.basename(step.file)).join(', ')}, matrix.txt and report.html in ${dir}`);
    }
    if (failed.length > 0) throw new Error(`${failed.join(', ')} failed (above)`);
    return EXIT.ok;
  } catch (error) {
    return reportError('matrix', error);
  } finally {
    stopListening();
  }
}

/** Measures a step, with the load around it on the host when the step runs there (in Dom0 for Xen's matrix). */
async function measureStep(step: Step, signal: AbortSignal, startHostLoad: (load: GuestLoad) => Promise<LoadHandle>): Promise<void> {
  let hostLoad: LoadHandle | null = null;
  try {
    if (step.load && step.hostLoad) hostLoad = await startHostLoad(step.load);
    const outcome = await step.measure(signal);
    await writeStdout(`== ${step.name}\n${outcome.stdout}`);
    if (outcome.status !== EXIT.ok) throw new Error(`exit code ${outcome.status}: ${outcome.stderr.trim().split('\n').pop() ?? ''}`);
    if (hostLoad) {
      // The load ran beside the run, outside the measuring process: record it as measure --load would.
      const run = JSON.parse(readFileSync(step.file, 'utf8')) as RunFile;
      writeFileAtomic(step.file, `${JSON.stringify({ ...run, load: await hostLoad.stop() }, null, 2)}\n`);
    }
  } finally {
    await hostLoad?.stop().catch(() => {});
  }
}

/** rtlat itself as a child (the host's measurement), SIGINT passed on. */
function runRtlat(args: string[], signal: AbortSignal): Promise<{ stdout: string; stderr: string; status: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RTLAT_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const interrupt = () => child.kill('SIGINT');
    signal.addEventListener('abort', interrupt, { once: true });
    child.once('error', reject);
    child.once('close', (status) => {
      signal.removeEventListener('abort', interrupt);
      resolve({ stdout, stderr, status });
    });
  });
}
