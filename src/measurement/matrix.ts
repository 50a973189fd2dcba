// The research's experiment in one call: the host (measured here, in this process), then a guest
// for each kernel (in Xen's Dom0: a domU of each type with each kernel), then (if asked) a container,
// with the same measure options and the same load on the host (Dom0) during each, or each step twice,
// without the load and with it. A step that fails is reported and the others still go ahead. The
// caller writes what comes back (rtlat matrix: every run file, the kernel table and the report).
import path from 'node:path';
import { pinOtherThreads } from '../engine/probe.js';
import { usableCpus } from '../engine/system.js';
import { startLoad, type LoadHandle } from '../load/index.js';
import { readRunFile } from '../run-file/read.js';
import type { RunFile } from '../run-file/schema.js';
import { CONTAINER_OUT_DIR, runContainer, runGuest, runXenGuest, startDom0Load, xenGuestOptions, type GuestOptions, type XenGuestType } from '../targets/index.js';
import { withHostSummary } from './explain/host.js';
import { measureRun, type MeasureOptions } from './measure.js';

export interface MatrixKernel {
  /** Names the guest's step and file: guest-LABEL.json. */
  label: string;
  path: string;
}

export interface MatrixOptions {
  /** Where the steps' run files go (the container writes its own there): host.json, guest-LABEL.json, container.json. */
  dir: string;
  /** The host's measurement, as measureRun takes it; its cpus are the container's too. */
  host: MeasureOptions;
  kernels?: readonly MatrixKernel[];
  /** Every guest's set-up, the same for each (runGuest's options but the kernel, the load and what runMatrix sets). */
  guest?: Omit<GuestOptions, 'kernel' | 'load' | 'signal' | 'onProgress'>;
  /** Measure in a container too: its engine and image, with `rtlat measure` and these arguments. */
  container?: { engine: string; image: string; measureArgs: readonly string[]; engineArgs?: readonly string[] } | null;
  /** Load on the host during every step (cpus default: the host's --cpus, else every CPU this process may use). */
  load?: MatrixLoad | null;
  /** Measure every step twice: without the load, then with it (files NAME.json and NAME-load.json). */
  withAndWithoutLoad?: boolean;
  /** In Xen's Dom0: a domU of each type with each kernel instead of QEMU's guests, the load in Dom0 (its cpus physical CPUs). */
  xen?: { types: readonly XenGuestType[]; kernelModules: string | null } | null;
  /** Aborting stops the step in progress (its results are kept) and measures no further one. */
  signal?: AbortSignal;
}

export type MatrixLoad = NonNullable<GuestOptions['load']>;

export interface MatrixStep {
  kind: 'host' | 'guest' | 'container';
  /** "host", "guest LABEL", "xen pvh LABEL", "container"; " with load" after it for a step's loaded twin. */
  name: string;
  file: string;
  /** The load on the host (Dom0) during the step; null when none. */
  load: MatrixLoad | null;
}

export interface MatrixHooks {
  /** A line about a step's progress ("guest rt: booting under TCG, ...") or its failure ("host: exit code 3: ..."). */
  onProgress?: (line: string) => void;
  /**
   * A step that ran to its end: its run (null when it wrote none) and what it printed (null for the
   * host: measured here, it printed nothing). Throwing ends the matrix (a file that cannot be written
   * would fail every later step too).
   */
  onRun?: (step: MatrixStep, run: RunFile | null, stdout: string | null) => void | Promise<void>;
}

export interface MatrixResult {
  measured: { step: MatrixStep; run: RunFile }[];
  failed: { step: MatrixStep; error: Error }[];
}

interface PlannedStep extends MatrixStep {
  /** The load runs on the host around the step (guests start theirs when they are up). */
  hostLoad: boolean;
  measure: (signal: AbortSignal | undefined) => Promise<{ run: RunFile | null; stdout: string | null; stderr: string; status: number }>;
}

/** A step before its load is chosen: its file's name without .json, and how it measures with a load (named as planned: "guest nrt with load"). */
interface StepKind {
  kind: MatrixStep['kind'];
  name: string;
  file: string;
  hostLoad: boolean;
  measure: (load: MatrixLoad | null, file: string, name: string) => PlannedStep['measure'];
}

/** The last line a step's rtlat printed on stderr, to say why it failed. */
function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

function plan(options: MatrixOptions, hooks: MatrixHooks): PlannedStep[] {
  const { dir, host, kernels = [], guest, container, load, xen } = options;
  const hostStep: StepKind = {
    kind: 'host',
    name: 'host',
    file: 'host',
    hostLoad: true,
    measure: () => async (signal) => {
      const before = usableCpus().allowed;
      try {
        const run = await measureRun({ ...host, ...(signal && { signal }) });
        return { run, stdout: null, stderr: '', status: 0 };
      } finally {
        // --main-cpus pinned this process's every thread: the steps after it (QEMU, the engine) must not inherit that.
        if (host.mainCpus) pinOtherThreads(before, []);
      }
    },
  };
  const guestSteps = kernels.flatMap((kernel) =>
    (xen?.types ?? [null]).map((type): StepKind => {
      const name = type === null ? `guest ${kernel.label}` : `xen ${type} ${kernel.label}`;
      return {
        kind: 'guest',
        name,
        file: type === null ? `guest-${kernel.label}` : `xen-${type}-${kernel.label}`,
        hostLoad: false,
        measure: (stepLoad, _file, planned) => async (signal) => {
          if (!guest) throw new Error('runMatrix: kernels need the guest options');
          const options: GuestOptions = { ...guest, kernel: kernel.path, load: stepLoad, ...(signal && { signal }), onProgress: (line) => hooks.onProgress?.(`${planned}: ${line}`) };
          // The host's side of each explained wake-up, summed up, when the host traced the vCPU threads (--explain-host).
          return withHostSummary(type === null ? await runGuest(options) : await runXenGuest(xenGuestOptions(options, type, xen!.kernelModules)));
        },
      };
    }),
  );
  const containerSteps: StepKind[] = container
    ? [
        {
          kind: 'container',
          name: 'container',
          file: 'container',
          hostLoad: true,
          measure: (_load, file) => async (signal) => {
            const outcome = await runContainer({
              ...(signal && { signal }),
              engine: container.engine,
              image: container.image,
              args: ['measure', ...container.measureArgs, '--json', `${CONTAINER_OUT_DIR}/${path.basename(file)}`],
              cpus: host.cpus ?? null,
              outDir: dir,
              engineArgs: container.engineArgs ?? [],
            });
            const written = outcome.status === 0 ? readRunFile(file).run : null;
            return { run: written, stdout: outcome.stdout, stderr: outcome.stderr, status: outcome.status ?? 1 };
          },
        },
      ]
    : [];
  // Each step once with the load as given, or without it and then with it.
  const loads: (MatrixLoad | null)[] = options.withAndWithoutLoad && load ? [null, load] : [load ?? null];
  return [hostStep, ...guestSteps, ...containerSteps].flatMap((step) =>
    loads.map((stepLoad) => {
      const twin = options.withAndWithoutLoad === true && stepLoad !== null;
      const file = path.join(dir, `${step.file}${twin ? '-load' : ''}.json`);
      const name = `${step.name}${twin ? ' with load' : ''}`;
      return { kind: step.kind, name, file, load: stepLoad, hostLoad: step.hostLoad, measure: step.measure(stepLoad, file, name) };
    }),
  );
}

/** The load on the host around a step: in Xen's Dom0, on the physical CPUs given; here, on the CPUs given or measured. */
function startHostLoad(load: MatrixLoad, options: MatrixOptions): Promise<LoadHandle> {
  if (options.xen) return startDom0Load(load.spec, load.cpus).then(({ load: handle }) => handle);
  return startLoad(load.spec, { cpus: load.cpus ?? options.host.cpus ?? usableCpus().allowed });
}

/** Measures the host, each kernel's guest and the container in turn; resolves once every step has run or failed. */
export async function runMatrix(options: MatrixOptions, hooks: MatrixHooks = {}): Promise<MatrixResult> {
  const result: MatrixResult = { measured: [], failed: [] };
  const { signal } = options;
  const fail = (step: MatrixStep, error: Error) => {
    result.failed.push({ step, error });
    hooks.onProgress?.(`${step.name}: ${error.message.split('\n')[0]}`);
  };
  for (const step of plan(options, hooks)) {
    if (signal?.aborted) break;
    hooks.onProgress?.(`${step.name}: measuring`);
    let hostLoad: LoadHandle | null = null;
    let outcome: Awaited<ReturnType<PlannedStep['measure']>>;
    try {
      if (step.load && step.hostLoad) hostLoad = await startHostLoad(step.load, options);
      outcome = await step.measure(signal);
      // The load ran beside the run, outside the measuring threads: recorded as measure --load records it.
      if (hostLoad && outcome.run) outcome.run = { ...outcome.run, load: await hostLoad.stop() };
    } catch (error) {
      fail(step, error as Error);
      continue;
    } finally {
      await hostLoad?.stop().catch(() => {});
    }
    await hooks.onRun?.(step, outcome.run, outcome.stdout);
    const failure =
      outcome.status !== 0
        ? `exit code ${outcome.status}: ${lastLine(outcome.stderr)}`
        : outcome.run === null
          ? 'it measured but sent no run file back'
          : outcome.run.breaktrace
            ? 'stopped by --breaktrace'
            : null;
    if (failure) fail(step, new Error(failure));
    else result.measured.push({ step, run: outcome.run! });
  }
  return result;
}
