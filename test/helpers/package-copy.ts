// Copies of the package's run-time tree, as the guest image lists it (src/targets/guest/contents.ts), written
// to disk: for the tests of that tree, and for the tests that run rtlat as `nobody`, to see what a
// user without real-time privileges sees.
//
// `nobody` cannot read a clone that lives under a 0700 folder (a home as root, mktemp -d), so these
// tests do not run the clone itself: they run a copy of the package made for them, the same tree the
// guest gets (src/targets/guest/contents.ts: package.json, bin, dist, the addon, the run-time node_modules),
// written to a world-readable temporary folder. Dropping capabilities and rlimits while staying root
// would not show the same thing: root owns /dev/cpu_dma_latency (mode 0600) and opens it without any
// capability, and files root owns stay writable to it.
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GUEST_PACKAGE_DIR, hostFile, packageTree, type GuestFile } from '../../src/targets/guest/contents.js';
import { scratchDir } from './cli.js';

const root = path.resolve(import.meta.dirname, '../..');

/** setpriv's arguments that make the rest of the command line run as nobody:nogroup, with no other groups. */
export const AS_NOBODY = ['--reuid=nobody', '--regid=nogroup', '--clear-groups'];

/** `command args...` as nobody: the command and arguments to spawn. */
export function asNobody(command: string, args: readonly string[]): [string, string[]] {
  return ['setpriv', [...AS_NOBODY, command, ...args]];
}

/** Writes `entries` (as the guest image lists them) under `into`, every folder and file readable by all. */
export function writeTree(entries: readonly GuestFile[], into: string): void {
  const made = new Set<string>();
  const folder = (dir: string) => {
    if (made.has(dir) || dir === into) return;
    folder(path.dirname(dir));
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    made.add(dir);
  };
  for (const entry of entries) {
    const target = path.join(into, entry.path);
    folder(path.dirname(target));
    switch (entry.kind) {
      case 'host-file':
        copyFileSync(entry.source, target);
        chmodSync(target, entry.mode | 0o444);
        break;
      case 'file':
        writeFileSync(target, entry.data);
        chmodSync(target, entry.mode | 0o444);
        break;
      case 'symlink':
        symlinkSync(entry.target, target);
        break;
      default:
        throw new Error(`writeTree: cannot write a ${entry.kind} (${entry.path})`);
    }
  }
}

export interface PackageCopy {
  /** The package's folder. */
  dir: string;
  bin: string;
  distIndex: string;
  distPrometheus: string;
  /** The environment to run it in: RTLAT_ADDON (another build of the addon, the sanitizer's in CI) points into the copy too. */
  env: NodeJS.ProcessEnv;
}

let copy: PackageCopy | undefined;

/** This package, copied once per test file into a temporary folder that nobody can read (removed with the scratch folders). */
export function packageForNobody(): PackageCopy {
  if (copy === undefined) {
    const into = scratchDir();
    chmodSync(into, 0o755);
    writeTree(packageTree(root), into);
    const dir = path.join(into, GUEST_PACKAGE_DIR);
    const env = { ...process.env };
    if (env.RTLAT_ADDON) {
      const addon = path.join(into, 'addon', path.basename(env.RTLAT_ADDON));
      writeTree([hostFile(env.RTLAT_ADDON, path.relative(into, addon))], into);
      env.RTLAT_ADDON = addon;
    }
    copy = { dir, bin: path.join(dir, 'bin/rtlat'), distIndex: path.join(dir, 'dist/index.js'), distPrometheus: path.join(dir, 'dist/prometheus.js'), env };
  }
  return copy;
}

/** `node args...` as nobody, run from the copy (its folder, its environment): what to give spawn. */
export function nodeAsNobody(args: readonly string[]): { command: string; args: string[]; options: { cwd: string; env: NodeJS.ProcessEnv } } {
  const { dir, env } = packageForNobody();
  const [command, argv] = asNobody(process.execPath, args);
  return { command, args: argv, options: { cwd: dir, env } };
}
