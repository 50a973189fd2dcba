// Load generators (rtlat measure --load, rtlat sweep --load): ordinary SCHED_OTHER processes pinned
// to the load CPUs, started before measuring and stopped after, each reporting what it did.
//
//   const load = await startLoad('syscalls,ipc', { cpus: [0, 1] });
//   ... measure ...
//   run.load = await load.stop();
//
// None outlives the process that started it, even when that process is killed with SIGKILL: each
// generator's parent-death signal stops it, and its temporary files have no name or live in a
// folder it removes.
import { OptionError } from '../errors.js';
import type { ProbeConfig } from '../engine/options.js';
import type { RunLoad } from '../run-file/schema.js';
import { usableCpus } from '../engine/system.js';
import { formatCpuList, NS_PER_S } from '../units.js';
import { GeneratorProcess, type GeneratorReport } from './process.js';
import { parseLoadSpec, type LoadGeneratorSpec, type LoadSpec } from './spec.js';
import { checkStressNgArgs, findStressNg, parseStressNgMetrics, STRESS_NG_FIXED_ARGS } from './stress-ng.js';

export { parseLoadSpec, NATIVE_LOAD_KINDS, type LoadGeneratorSpec, type LoadSpec, type NativeLoadKind } from './spec.js';
export { formatLoadWork, OPERATION_NAMES } from './work.js';

export interface LoadOptions {
  /** CPUs to load. Each native generator runs once per CPU; ipc's receivers run on the next CPU of the list. */
  cpus: readonly number[];
  /** Where io's file and stress-ng's working folder go (default $TMPDIR, else /var/tmp, which is on disk: fsync does nothing on a tmpfs). */
  tempDir?: string;
}

export interface LoadHandle {
  readonly spec: LoadSpec;
  readonly cpus: readonly number[];
  /** Stops every generator and returns what each did, for the run file. Rejects, once all are stopped, if one ended early. Idempotent. */
  stop(): Promise<RunLoad>;
}

interface PlannedGenerator {
  kind: LoadGeneratorSpec['kind'];
  cpu: number | null;
  label: string;
  args: string[];
}

/** The default load CPUs: those measured on (every usable CPU when the threads are not pinned). */
export function loadCpusFor(config: ProbeConfig): number[] {
  const pinned = config.threads.map((plan) => plan.cpu).filter((cpu): cpu is number => cpu !== null);
  return pinned.length === config.threads.length ? [...new Set(pinned)].sort((a, b) => a - b) : usableCpus().allowed;
}

function checkLoadCpus(cpus: readonly number[]): void {
  const { allowed } = usableCpus();
  if (cpus.length === 0 || cpus.some((cpu) => !allowed.includes(cpu))) {
    throw new OptionError('load-cpus', formatCpuList(cpus), `CPUs in this process's affinity mask (${formatCpuList(allowed)})`);
  }
}

async function planGenerators(spec: LoadSpec, cpus: readonly number[], tempDir: string): Promise<PlannedGenerator[]> {
  const planned: PlannedGenerator[] = [];
  for (const generator of spec.generators) {
    if (generator.kind === 'stress-ng') {
      const binary = findStressNg();
      await checkStressNgArgs(binary, generator.args, spec.text);
      planned.push({
        kind: generator.kind,
        cpu: null,
        label: 'stress-ng',
        args: [...cpus.flatMap((cpu) => ['--cpu', `${cpu}`]), '--dir', tempDir, '--', binary, ...STRESS_NG_FIXED_ARGS, ...generator.args],
      });
      continue;
    }
    cpus.forEach((cpu, index) => {
      const peer = cpus[(index + 1) % cpus.length]!;
      planned.push({
        kind: generator.kind,
        cpu,
        label: `${generator.kind} on CPU ${cpu}`,
        args: ['--kind', generator.kind, '--cpu', `${cpu}`, '--peer-cpu', `${peer}`, '--dir', tempDir],
      });
    });
  }
  return planned;
}

function generatorEntries(planned: PlannedGenerator, report: GeneratorReport): RunLoad['generators'] {
  if (planned.kind === 'stress-ng') {
    const rows = parseStressNgMetrics(report.stderr);
    if (rows.length === 0) throw new Error('rtlat: stress-ng printed no metrics when it was stopped');
    return rows.map((row) => ({ kind: `stress-ng:${row.stressor}`, cpu: null, operations: row.bogoOps, opsPerSecond: row.opsPerSecond }));
  }
  const operations = report.operations ?? 0;
  const seconds = report.elapsedNs / NS_PER_S;
  return [{ kind: planned.kind, cpu: planned.cpu, operations, opsPerSecond: seconds > 0 ? operations / seconds : 0 }];
}

/** Stops them all, then throws the first failure if there was one. */
async function stopAll(processes: readonly GeneratorProcess[]): Promise<GeneratorReport[]> {
  const outcomes = await Promise.allSettled(processes.map((generator) => generator.stop()));
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<GeneratorReport>).value);
}

/** Checks `spec` and `options` as startLoad() does, without starting anything: for callers that start the load later. */
export async function checkLoad(spec: LoadSpec | string, options: LoadOptions): Promise<void> {
  const parsed = typeof spec === 'string' ? parseLoadSpec(spec) : spec;
  checkLoadCpus(options.cpus);
  await planGenerators(parsed, options.cpus, options.tempDir ?? defaultTempDir());
}

function defaultTempDir(): string {
  return process.env.TMPDIR || '/var/tmp';
}

/**
 * Starts every generator of `spec` and resolves once all of them run. Throws OptionError for a bad
 * spec or CPU list (and for stress-ng arguments stress-ng refuses), PlatformError when stress-ng or
 * the generator program is missing, and Error when a generator cannot start (none is left running).
 */
export async function startLoad(spec: LoadSpec | string, options: LoadOptions): Promise<LoadHandle> {
  const parsed = typeof spec === 'string' ? parseLoadSpec(spec) : spec;
  const cpus = [...new Set(options.cpus)].sort((a, b) => a - b);
  checkLoadCpus(cpus);
  const planned = await planGenerators(parsed, cpus, options.tempDir ?? defaultTempDir());
  const started = await Promise.allSettled(planned.map((generator) => GeneratorProcess.start(generator.label, generator.args)));
  const processes = started.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  const failed = started.find((outcome) => outcome.status === 'rejected');
  if (failed) {
    await Promise.allSettled(processes.map((generator) => generator.stop()));
    throw failed.reason;
  }

  let stopped: Promise<RunLoad> | null = null;
  return {
    spec: parsed,
    cpus,
    stop() {
      stopped ??= stopAll(processes).then((reports) => ({
        spec: parsed.text,
        cpus,
        generators: reports.flatMap((report, index) => generatorEntries(planned[index]!, report)),
      }));
      return stopped;
    },
  };
}
