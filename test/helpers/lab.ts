// For the tests that boot rtlat lab hosts: the tools they need, and where a test kernel's modules are.
// They run rtlat through helpers/guest.ts (rtlatAsync, processesLeft), which tells this test's
// processes from other QEMUs on the machine.
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { kernelImageRelease } from '../../src/targets/guest/kernel-image.js';
import { commandRuns, requireTool } from './tools.js';

export const labTools = requireTool(
  'qemu-system-x86_64, busybox, and apt-get with dpkg to fetch the lab hosts\' Debian packages',
  commandRuns('qemu-system-x86_64', ['--version']) && commandRuns('busybox', ['true']) && commandRuns('apt-get', ['--version']) && commandRuns('dpkg', ['--version']),
  'apt-get install qemu-system-x86 busybox-static',
);

/** A kernel's modules as scripts/fetch-kernels.sh keeps them: modules/RELEASE beside it. */
export function modulesOf(kernel: string): string {
  const real = realpathSync(kernel);
  return path.join(path.dirname(real), 'modules', kernelImageRelease(real)!);
}
