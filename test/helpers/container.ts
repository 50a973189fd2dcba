// For the tests that build and run the Dockerfile's image with podman: a local base image (no image
// can be pulled here: scripts/make-base-image.sh debootstraps one, its root file system cached under
// ~/.cache/rtlat-test), the image built from this tree, and what this host needs to run it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { containerRtRuntimeUs, mayRaiseHardLimits } from '../../src/targets/container/container.js';
import { commandRuns, requireTool } from './tools.js';

const root = path.resolve(import.meta.dirname, '../..');
/** A base image to use instead of making one (e.g. node:20-bookworm-slim where it can be pulled). */
const givenBase = process.env.RTLAT_TEST_BASE_IMAGE;
export const TEST_IMAGE = 'localhost/rtlat:test';

export const podmanTools = requireTool(
  'podman, and debootstrap for the base image (or RTLAT_TEST_BASE_IMAGE)',
  commandRuns('podman', ['--version']) && (givenBase !== undefined || commandRuns('debootstrap', ['--version'])),
  'apt-get install podman runc debootstrap',
);

/** podman with these arguments; its stdout, or an Error with its stderr's end. */
export function podman(args: string[], timeoutMs = 120_000): string {
  return run('podman', args, timeoutMs);
}

function run(command: string, args: string[], timeoutMs: number): string {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stderr.slice(-4000)}`);
  return result.stdout;
}

/** Builds TEST_IMAGE from this tree (podman's layer cache makes a rebuild quick) and returns its base. */
export function buildTestImage(): string {
  const base = givenBase ?? execFileSync(path.join(root, 'scripts/make-base-image.sh'), { encoding: 'utf8', timeout: 600_000 }).trim();
  // Behind a TLS-intercepting proxy npm needs its CA; the Dockerfile takes it as an optional secret.
  const caBundle = '/etc/ssl/certs/ca-certificates.crt';
  podman([
    'build', '--network', 'host', '--build-arg', `BASE_IMAGE=${base}`,
    ...(existsSync(caBundle) ? ['--secret', `id=ca-certificates,src=${caBundle}`] : []),
    '-t', TEST_IMAGE, '.',
  ], 900_000);
  return base;
}

/**
 * podman's default rlimits (nofile, nproc at their maximum) cannot be set by a process without
 * CAP_SYS_RESOURCE, as in this sandbox: lower ones, then. rtlat needs few of either.
 */
export function sandboxEngineArgs(): string[] {
  return mayRaiseHardLimits() ? [] : ['--ulimit=nofile=1024:1024', '--ulimit=nproc=4096:4096'];
}

/**
 * On cgroup v1 with RT group scheduling, podman's parent cgroup (cgroupfs: /libpod_parent) starts
 * with no real-time budget, so no container below it can have one: give it one, as an administrator
 * would once. Returns how to put it back.
 */
export function grantPodmanRtBudget(): () => void {
  const runtimeUs = containerRtRuntimeUs();
  if (runtimeUs === null) return () => {};
  const parent = '/sys/fs/cgroup/cpu/libpod_parent';
  mkdirSync(parent, { recursive: true });
  const file = path.join(parent, 'cpu.rt_runtime_us');
  const before = readFileSync(file, 'utf8').trim();
  writeFileSync(file, `${runtimeUs}`);
  return () => {
    try {
      writeFileSync(file, before);
    } catch {
      // A container still holds its budget: it stays granted.
    }
  };
}
