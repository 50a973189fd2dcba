// `rtlat matrix`: the research's experiment in one command. Measures the host, then a guest for each
// kernel, then (if asked) a container, with the same measure options and the same load on the host
// during each, and writes every run file, the host/guest kernel table (rtlat compare --matrix) and
// the HTML report into one folder. A run that fails is reported and the others still go ahead.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { writeFileAtomic } from '../atomic-file.js';
import { buildMatrix, formatMatrix } from '../compare/matrix.js';
import { labelRuns } from '../compare/environment.js';
import { readRunFile } from '../compare/read.js';
import { CONTAINER_OUT_DIR, runContainer } from '../container/run.js';
import { OptionError } from '../errors.js';
import { runGuest } from '../guest/run.js';
import { startLoad, type LoadHandle } from '../load/index.js';
import { renderReport } from '../report/report.js';
import type { RunFile } from '../run.js';
import { usableCpus } from '../system.js';
import { parseCpuList, parseInteger } from '../units.js';
import { RTLAT_VERSION } from '../version.js';
import { commandLine } from './command-line.js';
import { EXIT, reportError, UsageError } from './errors.js';
import { addMeasureOptions } from './measure.js';
import { addGuestOptions, checkMeasureOptions, HOST_OUTPUTS_AND_LOAD, measureArgsOf, NOT_TO_GUEST, parseGuestFlags, type GuestFlags } from './guest.js';
import { collect } from './run-files.js';
import { onStopSignals } from './signals.js';

interface MatrixFlags extends GuestFlags {
  output: string;
  kernels?: string;
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
    if (!statSync(kernel.path, { throwIfNoEntry: false })?.isFile()) throw new OptionError('kernels', kernel.path, 'a kernel image file (vmlinuz) for each label');
  }
  return kernels;
}

export function matrixCommand(): Command {
  const command = new Command('matrix')
    .description(
      'Measure the host, a guest for each kernel (rtlat guest) and a container, with the same options and host load; ' +
        'write the runs, the host/guest kernel table and the HTML report into one folder.',
    )
    .requiredOption('-o, --output <dir>', 'the folder for everything written (created if missing)')
    .option('--kernels <list>', 'guest kernels as LABEL=PATH, comma-separated, e.g. nrt=/boot/vmlinuz-6.1,rt=/boot/vmlinuz-6.1-rt')
    .option('--guest-cpus <n>', 'vCPUs of each guest', '1')
    .option('--container <image>', 'also measure in a container of this image (the Dockerfile\'s)')
    .option('--engine <command>', 'the container engine: podman or docker', 'podman')
    .option('--engine-arg <arg>', 'one more option for the engine\'s run, e.g. --engine-arg=--ulimit=nofile=1024 (repeatable)', collect, []);
  addGuestOptions(command);
  addMeasureOptions(command, (name) => !HOST_OUTPUTS_AND_LOAD.includes(name));
  return command.action(async (flags: MatrixFlags) => {
    process.exitCode = await matrix(flags, command);
  });
}

/** One entry of the experiment: its file, and how to measure it. */
interface Step {
  name: string;
  file: string;
  measure: (signal: AbortSignal) => Promise<{ stdout: string; stderr: string; status: number | null }>;
  /** The load runs on the host around the step (guests start theirs when they are up). */
  hostLoad: boolean;
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
    const vcpus = parseInteger('guest-cpus', flags.guestCpus, 1, 256);
    const hostCpus = flags.cpus === undefined ? null : parseCpuList('cpus', flags.cpus);
    const measureArgs = measureArgsOf(command, HOST_OUTPUTS_AND_LOAD);
    const guestMeasureArgs = measureArgsOf(command, NOT_TO_GUEST);
    const dir = path.resolve(flags.output);
    mkdirSync(dir, { recursive: true });
    const say = (line: string) => process.stderr.write(`rtlat matrix: ${line}\n`);

    const steps: Step[] = [
      {
        name: 'host',
        file: path.join(dir, 'host.json'),
        hostLoad: true,
        measure: (signal) => runRtlat(['measure', ...measureArgs, '--json', path.join(dir, 'host.json')], signal),
      },
      ...kernels.map(
        (kernel): Step => ({
          name: `guest ${kernel.label}`,
          file: path.join(dir, `guest-${kernel.label}.json`),
          hostLoad: false,
          measure: async (signal) => {
            const result = await runGuest({
              ...guest,
              kernel: kernel.path,
              vcpus,
              measureArgs: guestMeasureArgs,
              commandLine: commandLine(),
              signal,
              onProgress: (line) => say(`guest ${kernel.label}: ${line}`),
            });
            if (result.run) writeFileAtomic(path.join(dir, `guest-${kernel.label}.json`), `${JSON.stringify(result.run, null, 2)}\n`);
            return result;
          },
        }),
      ),
      ...(flags.container === undefined
        ? []
        : [
            {
              name: 'container',
              file: path.join(dir, 'container.json'),
              hostLoad: true,
              measure: (signal: AbortSignal) =>
                runContainer({
                  signal,
                  engine: flags.engine,
                  image: flags.container!,
                  args: ['measure', ...measureArgs, '--json', `${CONTAINER_OUT_DIR}/container.json`],
                  cpus: hostCpus,
                  outDir: dir,
                  engineArgs: flags.engineArg,
                }),
            },
          ]),
    ];

    stopListening = onStopSignals(onSignal);
    const measured: Step[] = [];
    const failed: string[] = [];
    for (const step of steps) {
      if (stop.signal.aborted) break;
      say(`${step.name}: measuring`);
      try {
        await measureStep(step, stop.signal, guest.load, hostCpus);
        measured.push(step);
      } catch (error) {
        failed.push(step.name);
        say(`${step.name}: ${(error as Error).message.split('\n')[0]}`);
      }
    }

    if (measured.length > 0) {
      const runs = labelRuns(measured.map((step) => readRunFile(step.file)));
      const table = formatMatrix(buildMatrix(runs), 'text');
      writeFileAtomic(path.join(dir, 'matrix.txt'), table);
      writeFileAtomic(path.join(dir, 'report.html'), renderReport(runs, { title: 'rtlat matrix', rtlatVersion: RTLAT_VERSION }));
      process.stdout.write(`\n${table}`);
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

async function measureStep(step: Step, signal: AbortSignal, load: { spec: string; cpus: readonly number[] | null } | null | undefined, hostCpus: number[] | null): Promise<void> {
  let hostLoad: LoadHandle | null = null;
  try {
    if (load && step.hostLoad) hostLoad = await startLoad(load.spec, { cpus: load.cpus ?? hostCpus ?? usableCpus().allowed });
    const outcome = await step.measure(signal);
    process.stdout.write(`== ${step.name}\n${outcome.stdout}`);
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
