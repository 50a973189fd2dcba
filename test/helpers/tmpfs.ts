// Small file systems of a test's own, to meet a full disk and a read-only folder where a user would:
// a tmpfs mounted on a scratch folder (as root), filled to the page, unmounted when the test is done.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const PAGE_BYTES = 4096;

function tryMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const dir = mkdtempSync(path.join(tmpdir(), 'rtlat-test-mount-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', dir]).status === 0;
  if (mounted) spawnSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
  return mounted;
}

/** True when this process may mount a tmpfs; tests that need one skip with `MOUNT_NOTE` otherwise. */
export const canMount = tryMount();
export const MOUNT_NOTE = canMount ? '' : ' (skipped: needs root, to mount a small tmpfs)';

export interface SmallFileSystem {
  dir: string;
  unmount(): void;
}

/**
 * A tmpfs with `freePages` pages (4 KiB each) left for files: 0 is a full disk, 1 lets a few KB be
 * written before ENOSPC; `inodes` limits how many files it can hold. Read-only with `readOnly`.
 */
export function smallTmpfs(options: { freePages: number; inodes?: number; readOnly?: boolean }): SmallFileSystem {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtlat-test-tmpfs-'));
  const mountOptions = ['size=256k', ...(options.inodes === undefined ? [] : [`nr_inodes=${options.inodes}`])].join(',');
  execFileSync('mount', ['-t', 'tmpfs', '-o', mountOptions, 'tmpfs', dir]);
  const filler = path.join(dir, 'filler');
  // dd stops at ENOSPC (and says so); then give back the pages asked for.
  spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4096'], { stdio: 'ignore' });
  truncateSync(filler, 256 * 1024 - options.freePages * PAGE_BYTES);
  if (options.readOnly) execFileSync('mount', ['-o', 'remount,ro', dir]);
  return {
    dir,
    unmount: () => {
      spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
