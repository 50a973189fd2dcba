// rtlat in a container (the image of the top-level Dockerfile), run by podman or docker with what a
// real-time measurement needs. A container shares the host's kernel: it measures how the host
// schedules the container's CPUs, under the container's limits.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { formatCpuList } from '../../units.js';

/** Where the output folder is mounted in the container. */
export const CONTAINER_OUT_DIR = '/out';

const CAP_SYS_RESOURCE = 24n;
/** cgroup v1's cpu controller, where RT group scheduling gives each cgroup its own real-time budget. */
const RT_GROUP_RUNTIME_FILE = '/sys/fs/cgroup/cpu/cpu.rt_runtime_us';
const DEFAULT_RT_RUNTIME_US = 950_000;

/** Whether this process may raise hard rlimits (CAP_SYS_RESOURCE); the engine's runtime has our capabilities. */
export function mayRaiseHardLimits(): boolean {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return hex !== undefined && ((BigInt(`0x${hex}`) >> CAP_SYS_RESOURCE) & 1n) === 1n;
  } catch {
    return false;
  }
}

/**
 * The real-time budget a container needs on this host, in us per period, or null where containers
 * need none: on cgroup v1 with RT group scheduling a new cgroup has 0, and SCHED_FIFO is refused in it.
 */
export function containerRtRuntimeUs(): number | null {
  if (!existsSync(RT_GROUP_RUNTIME_FILE)) return null;
  try {
    const global = Number(readFileSync('/proc/sys/kernel/sched_rt_runtime_us', 'utf8').trim());
    return global > 0 ? global : DEFAULT_RT_RUNTIME_US;
  } catch {
    return DEFAULT_RT_RUNTIME_US;
  }
}

/**
 * The engine options for a real-time measurement: the capabilities, the rlimits (only where this
 * process may raise hard limits, as the engine's runtime must: it has our capabilities), the
 * DMA-latency device, and the cgroup's real-time budget where one is needed.
 */
export function realTimeEngineArgs(): string[] {
  const args = ['--cap-add', 'SYS_NICE', '--cap-add', 'IPC_LOCK'];
  // Root with CAP_SYS_NICE and CAP_IPC_LOCK needs neither limit; without CAP_SYS_RESOURCE, asking for them fails the start.
  if (mayRaiseHardLimits()) args.push('--ulimit', 'rtprio=99', '--ulimit', 'memlock=-1');
  if (existsSync('/dev/cpu_dma_latency')) args.push('--device', '/dev/cpu_dma_latency');
  const runtimeUs = containerRtRuntimeUs();
  if (runtimeUs !== null) args.push('--cpu-rt-runtime', `${runtimeUs}`);
  return args;
}

export interface ContainerRun {
  /** podman (default) or docker, or a path to either. */
  engine?: string;
  image: string;
  /** rtlat's arguments (the image's entry point is rtlat), e.g. ['measure', '--loops', '1000']. */
  args: readonly string[];
  /** Host CPUs the container may use (--cpuset-cpus); null for all. */
  cpus?: readonly number[] | null;
  /** Host folder mounted read-write at CONTAINER_OUT_DIR. */
  outDir?: string | null;
  /** More engine options, before the image. */
  engineArgs?: readonly string[];
  /** Aborting sends SIGINT to the engine, which passes it on to rtlat (stopping it with its results). */
  signal?: AbortSignal;
}

/** The engine's command line for `run`. */
export function containerCommand(run: ContainerRun): string[] {
  return [
    run.engine ?? 'podman',
    'run', '--rm', '--network', 'none',
    ...realTimeEngineArgs(),
    ...(run.cpus?.length ? ['--cpuset-cpus', formatCpuList(run.cpus)] : []),
    ...(run.outDir ? ['--volume', `${run.outDir}:${CONTAINER_OUT_DIR}`] : []),
    ...(run.engineArgs ?? []),
    run.image,
    ...run.args,
  ];
}

export interface ContainerOutcome {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** What to do about the engine's refusals that this host's set-up causes. */
function explain(stderr: string): string | null {
  if (/cpu\.rt_runtime_us: invalid argument/.test(stderr)) {
    return (
      'the container engine could not give the container a real-time budget (cgroup v1 with RT group scheduling): ' +
      'give its parent cgroup one first, e.g. `echo 950000 > /sys/fs/cgroup/cpu/libpod_parent/cpu.rt_runtime_us` ' +
      '(podman, cgroupfs) or `dockerd --cpu-rt-runtime=950000`'
    );
  }
  if (/error setting rlimit/.test(stderr)) {
    return (
      'the container engine could not set the container\'s rlimits above this process\'s hard limits (it lacks CAP_SYS_RESOURCE): ' +
      'give it lower ones as engine options: --ulimit nofile=1024:1024 --ulimit nproc=4096:4096'
    );
  }
  return null;
}

/** Runs rtlat in the container; rejects when the engine cannot be started or refuses the container. */
export function runContainer(run: ContainerRun): Promise<ContainerOutcome> {
  const [engine, ...args] = containerCommand(run);
  return new Promise((resolve, reject) => {
    const child = spawn(engine!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const interrupt = () => child.kill('SIGINT');
    run.signal?.addEventListener('abort', interrupt, { once: true });
    child.once('error', (error) => reject(new Error(`${engine} could not run: ${error.message}`)));
    child.once('close', (status) => {
      run.signal?.removeEventListener('abort', interrupt);
      const problem = explain(stderr);
      // podman and docker exit 125-127 when the container could not be created or started.
      if (problem) reject(new Error(problem));
      else if (status !== null && status >= 125) reject(new Error(`${engine} could not run the container: ${stderr.trim().split('\n').pop() ?? `exit code ${status}`}`));
      else resolve({ status, stdout, stderr });
    });
  });
}
