// The guest's initramfs, in two parts the kernel unpacks one after the other: a large base (busybox,
// Node, rtlat; built once and cached by what it holds) and a small archive per run (its arguments and
// the --initrd-extra files). The base is not compressed: under TCG the guest unpacks 106 MB of plain
// cpio in about 1.5 s less than the same archive gzipped (measured on Debian's 6.1 cloud and RT
// kernels), and disk is cheaper than every boot's time.
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, constants as fsConstants, lstatSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { AtomicFile } from '../../outputs/atomic-file.js';
import { cpioBuffer, writeCpio, type CpioEntry } from './cpio.js';
import { binaryWithLibraries, findExecutable, GUEST_BUSYBOX, GUEST_NODE, hostFile, packageEntries, treeEntries, type GuestFile } from './contents.js';
import { argsScript, GUEST_ARGS_FILE, MEASURE_INIT, PROBE_INIT } from './protocol.js';

/** Bumped when the layout of the base image changes, so that older cached images are not reused. */
const IMAGE_FORMAT = 1;
const BASE_PREFIX = 'initramfs-';

/** rtlat's cache folder: $RTLAT_CACHE_DIR, else $XDG_CACHE_HOME/rtlat, else ~/.cache/rtlat. */
export function defaultCacheDir(): string {
  if (process.env.RTLAT_CACHE_DIR) return path.resolve(process.env.RTLAT_CACHE_DIR);
  return path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'rtlat');
}

export function findBusybox(): string {
  const busybox = findExecutable('busybox', ['/bin', '/usr/bin', '/sbin', '/usr/sbin']);
  if (busybox === null) throw new Error('busybox not found: the guest needs it as its shell and tools (apt-get install busybox-static)');
  return busybox;
}

const STANDARD_DIRS = ['bin', 'dev', 'proc', 'sys', 'tmp', 'run', 'rtlat'];

/** The files, preceded by every folder that holds them (the kernel creates entries in archive order). */
export function withDirectories(files: readonly GuestFile[], extraDirs: readonly string[] = []): CpioEntry[] {
  const byPath = new Map<string, GuestFile>();
  for (const file of files) byPath.set(file.path.replace(/^\/+/, ''), { ...file, path: file.path.replace(/^\/+/, '') });
  const dirs = new Set<string>(extraDirs);
  for (const file of byPath.keys()) {
    for (let dir = path.posix.dirname(file); dir !== '.'; dir = path.posix.dirname(dir)) dirs.add(dir);
  }
  // Sorted, a folder comes before everything inside it.
  const directories: CpioEntry[] = [...dirs].sort().map((dir) => ({ kind: 'directory', path: dir, mode: 0o755 }));
  return [...directories, ...[...byPath.values()].sort((a, b) => a.path.localeCompare(b.path))];
}

export function script(guestPath: string, text: string): GuestFile {
  return { kind: 'file', path: guestPath, mode: 0o755, data: Buffer.from(text) };
}

export const CONSOLE: GuestFile = { kind: 'char-device', path: '/dev/console', mode: 0o600, major: 5, minor: 1 };

/** What identifies a base image: every entry's path and its source's size and modification time. */
function imageKey(entries: readonly CpioEntry[]): string {
  const hash = createHash('sha256').update(`rtlat-initramfs ${IMAGE_FORMAT}\n`);
  for (const entry of entries) {
    switch (entry.kind) {
      case 'host-file': {
        const stat = statSync(entry.source);
        hash.update(`${entry.path} ${entry.source} ${stat.size} ${stat.mtimeMs} ${entry.mode}\n`);
        break;
      }
      case 'file':
        hash.update(`${entry.path} ${entry.mode} `).update(entry.data).update('\n');
        break;
      default:
        hash.update(`${JSON.stringify(entry)}\n`);
    }
  }
  return hash.digest('hex').slice(0, 16);
}

export interface BaseImage {
  path: string;
  /** True when it came from the cache. */
  reused: boolean;
}

/** Names a base image to use as it is instead of building one (for one made elsewhere from the same files). */
export const GUEST_IMAGE_VARIABLE = 'RTLAT_GUEST_IMAGE';

/**
 * The measuring guest's base archive for the package at `packageRoot`, from `cacheDir`/guest when
 * it holds one with the same contents; otherwise built there (replacing older ones).
 */
export function baseImage(packageRoot: string, cacheDir: string): BaseImage {
  // rtlat lab builds it outside, where that is quick, and hands it to the rtlat in its host this way.
  const given = process.env[GUEST_IMAGE_VARIABLE];
  if (given) {
    if (!statSync(given, { throwIfNoEntry: false })?.isFile()) throw new Error(`${GUEST_IMAGE_VARIABLE}=${given}: no such file`);
    return { path: given, reused: true };
  }
  return cachedImage(path.join(cacheDir, 'guest'), BASE_PREFIX, [script('/init', MEASURE_INIT), ...rtlatRuntime(packageRoot)]);
}

/** What runs rtlat anywhere rtlat boots: the console, busybox, this Node and the package. */
export function rtlatRuntime(packageRoot: string): GuestFile[] {
  return [CONSOLE, ...binaryWithLibraries(findBusybox(), GUEST_BUSYBOX), ...binaryWithLibraries(process.execPath, GUEST_NODE), ...packageEntries(packageRoot)];
}

/**
 * An archive of `files` (and the standard folders) in `dir`, named `prefix` and a key of what it holds:
 * reused when one with the same contents is there, otherwise built, replacing the older ones of `prefix`.
 */
export function cachedImage(dir: string, prefix: string, files: readonly GuestFile[]): BaseImage {
  const entries = withDirectories(files, STANDARD_DIRS);
  const target = path.join(dir, `${prefix}${imageKey(entries)}.cpio`);
  if (statSync(target, { throwIfNoEntry: false })?.isFile()) return { path: target, reused: true };

  mkdirSync(dir, { recursive: true });
  writeArchive(target, entries);
  for (const name of readdirSync(dir)) {
    if (name.startsWith(prefix) && path.join(dir, name) !== target) rmSync(path.join(dir, name), { force: true });
  }
  return { path: target, reused: false };
}

/** A file or folder of the host to add to the guest, at `guestPath` (by default its host path). */
export interface ExtraFile {
  source: string;
  guestPath: string;
}

/** "HOST[:GUEST]" of --initrd-extra. */
export function parseExtraFile(text: string): ExtraFile {
  const [source = '', guestPath] = text.split(':', 2);
  return { source: path.resolve(source), guestPath: guestPath ?? path.resolve(source) };
}

function extraEntries(extra: ExtraFile): GuestFile[] {
  const stat = lstatSync(extra.source);
  if (stat.isDirectory()) return treeEntries(extra.source, extra.guestPath);
  return [hostFile(extra.source, extra.guestPath)];
}

/**
 * Writes the initrd of one run to `target`: the base, then this run's own archive with rtlat's
 * arguments and the extra files. Copied (a reflink where the file system can) rather than built
 * again: the base stays the same from run to run.
 */
export function writeRunInitrd(target: string, base: string, args: readonly string[], extras: readonly ExtraFile[]): void {
  writeLayeredArchive(target, base, runFiles(args, extras));
}

/** A run's own files: rtlat's arguments and the --initrd-extra files. */
export function runFiles(args: readonly string[], extras: readonly ExtraFile[]): GuestFile[] {
  return [script(GUEST_ARGS_FILE, argsScript(args)), ...extras.flatMap(extraEntries)];
}

/** `base`, then an archive of `files` that the kernel unpacks over it. */
export function writeLayeredArchive(target: string, base: string, files: readonly GuestFile[]): void {
  copyFileSync(base, target, fsConstants.COPYFILE_FICLONE);
  appendFileSync(target, cpioBuffer(withDirectories(files)));
}

/** The KVM probe's initrd: busybox and an init that only reports it came up. A few MB, built each time. */
export function writeProbeInitrd(target: string): void {
  writeArchive(target, withDirectories([CONSOLE, script('/init', PROBE_INIT), ...binaryWithLibraries(findBusybox(), GUEST_BUSYBOX)]));
}

export function writeArchive(target: string, entries: readonly CpioEntry[]): void {
  const file = new AtomicFile(target);
  try {
    writeCpio(entries, (chunk) => file.write(chunk));
    file.commit();
  } catch (error) {
    file.abandon();
    throw error;
  }
}
