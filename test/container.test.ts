// The Dockerfile, built and run with podman: a runtime image whose entry point is rtlat, which
// measures with real-time privileges inside (its threads at SCHED_FIFO, read back from the kernel)
// and whose fingerprint says container.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { containerCommand, runContainer } from '../src/targets/container/container.js';
import type { Fingerprint } from '../src/fingerprint/index.js';
import type { RunFile } from '../src/run-file/schema.js';
import { scratchDir } from './helpers/cli.js';
import { schemaProblems } from './helpers/schema.js';
import { itWithTool } from './helpers/tools.js';
import { buildTestImage, grantPodmanRtBudget, podman, podmanTools, sandboxEngineArgs, TEST_IMAGE } from './helpers/container.js';

const packageVersion = (JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../package.json'), 'utf8')) as { version: string }).version;
/** The last CPU: the test's own processes tend to run on the first. */
const measuredCpu = Number(readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(/[-,]/).pop());

describe('the Dockerfile with podman', () => {
  let base = '';
  let restoreBudget = () => {};
  beforeAll(() => {
    if (podmanTools.skip) return;
    base = buildTestImage();
    restoreBudget = grantPodmanRtBudget();
  }, 900_000);
  afterAll(() => restoreBudget());

  itWithTool(podmanTools, 'builds a runtime image whose entry point is rtlat, with no build tools in it', async () => {
    const inspect = JSON.parse(podman(['image', 'inspect', TEST_IMAGE])) as { Config: { Entrypoint: string[] }; Size: number }[];
    expect(inspect[0]!.Config.Entrypoint).toEqual(['rtlat']);
    const version = await runContainer({ image: TEST_IMAGE, args: ['--version'], engineArgs: sandboxEngineArgs() });
    expect(version.stdout.trim()).toBe(packageVersion);
    // The build stage's compiler stayed there.
    const compiler = podman(['run', '--rm', ...sandboxEngineArgs(), '--entrypoint', 'sh', TEST_IMAGE, '-c', 'command -v g++ make python3 || true']);
    expect(compiler.trim()).toBe('');
    const baseSize = (JSON.parse(podman(['image', 'inspect', base])) as { Size: number }[])[0]!.Size;
    expect(inspect[0]!.Size - baseSize).toBeLessThan(50 * 1024 * 1024);
  });

  itWithTool(podmanTools, 'measures inside at SCHED_FIFO with the real-time options, and the run says container', async () => {
    const dir = scratchDir();
    const command = containerCommand({ image: TEST_IMAGE, args: [], cpus: [measuredCpu] });
    expect(command).toEqual(expect.arrayContaining(['--cap-add', 'SYS_NICE', '--cap-add', 'IPC_LOCK', '--cpuset-cpus', `${measuredCpu}`]));

    const outcome = await runContainer({
      image: TEST_IMAGE,
      args: ['measure', '--loops', '300', '--period', '1ms', '--cpus', `${measuredCpu}`, '--json', '/out/run.json'],
      cpus: [measuredCpu],
      outDir: dir,
      engineArgs: sandboxEngineArgs(),
    });
    expect(outcome.status, outcome.stderr).toBe(0);
    const run = JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunFile;
    expect(schemaProblems(run)).toBe('');
    expect(run.degraded).toEqual([]);
    expect(run.all.count).toBe(300);
    expect(run.threads[0]!.applied).toMatchObject({ policy: 'fifo', priority: 99, cpus: [measuredCpu] });
    expect(run.threads[0]!.memoryLocked).toBe(true);
    expect(run.dmaLatencyHeld).toBe(true);
    const { virtualization } = run.environment as Fingerprint;
    expect(virtualization.container).toBe(true);
    expect(virtualization.containerTechnology.value).toBe('podman');
  });

  itWithTool(podmanTools, 'rtlat info --json inside says container', async () => {
    const outcome = await runContainer({ image: TEST_IMAGE, args: ['info', '--json'], engineArgs: sandboxEngineArgs() });
    expect(outcome.status, outcome.stderr).toBe(0);
    const fingerprint = JSON.parse(outcome.stdout) as Fingerprint;
    expect(fingerprint.virtualization.role).toMatch(/^(container|vm\+container)$/);
    expect(fingerprint.virtualization.containerTechnology.value).toBe('podman');
  });
});
