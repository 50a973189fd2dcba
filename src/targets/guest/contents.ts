// What a guest needs from the host to run rtlat: busybox, the running Node with the libraries it
// links, and this rtlat package with its compiled addon and the packages it needs at run time, laid
// out so that Node finds them in the guest where it finds them on the host. Each becomes a list of
// cpio entries at the path the guest sees it under.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CpioEntry } from './cpio.js';

/** This package's folder (package.json, bin/, dist/, build/): what a guest or a lab host runs. */
export const PACKAGE_ROOT = path.resolve(import.meta.dirname, '../../..');

/** Where the package and the node_modules it resolves its imports from live inside the guest (see packageTree). */
export const GUEST_INSTALL_DIR = '/opt/rtlat-install';
/** The package inside the guest: a link to its folder within GUEST_INSTALL_DIR. */
export const GUEST_PACKAGE_DIR = '/opt/rtlat';
export const GUEST_NODE = '/usr/bin/node';
export const GUEST_BUSYBOX = '/bin/busybox';

/** A file the guest gets, and where. */
export type GuestFile = Exclude<CpioEntry, { kind: 'directory' }>;

export function hostFile(source: string, guestPath: string, mode?: number): GuestFile {
  const stat = statSync(source);
  return { kind: 'host-file', path: guestPath, mode: mode ?? stat.mode & 0o7777, source, size: stat.size };
}

/** The first executable `name` on PATH (or in `extraDirs`), or null. */
export function findExecutable(name: string, extraDirs: readonly string[] = []): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * The shared libraries `binary` loads, as ldd lists them (the dynamic loader included), at the paths
 * the loader will look them up under, `libraryPath` first (LD_LIBRARY_PATH). Empty for a static binary.
 */
export function sharedLibraries(binary: string, libraryPath: readonly string[] = []): string[] {
  const env = libraryPath.length > 0 ? { ...process.env, LD_LIBRARY_PATH: libraryPath.join(':') } : process.env;
  const ldd = spawnSync('ldd', [binary], { encoding: 'utf8', env });
  if (ldd.error) throw new Error(`ldd is needed to list the libraries of ${binary}: ${ldd.error.message}`);
  // "not a dynamic executable" (exit 1) for a static binary such as busybox-static's.
  if (ldd.status !== 0) return [];
  const libraries: string[] = [];
  for (const line of ldd.stdout.split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)";
    // linux-vdso has no file.
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match) libraries.push(match[1]!);
    else if (/=>\s*not found/.test(line)) throw new Error(`${binary} needs a library that is not installed: ${line.trim()}`);
  }
  return libraries;
}

/** A binary at `guestPath` and its libraries at the paths ldd gives (the guest has the host's layout for them). */
export function binaryWithLibraries(source: string, guestPath: string): GuestFile[] {
  return [hostFile(source, guestPath, 0o755), ...sharedLibraries(source).map((library) => hostFile(library, library, 0o755))];
}

/** Every file and symlink under `dir`, placed under `guestDir`; `skip` leaves out entries by name. */
export function treeEntries(dir: string, guestDir: string, skip: (name: string, hostPath: string) => boolean = () => false): GuestFile[] {
  const entries: GuestFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    const hostPath = path.join(dir, name);
    const guestPath = path.posix.join(guestDir, name);
    if (skip(name, hostPath)) continue;
    const stat = lstatSync(hostPath);
    if (stat.isSymbolicLink()) entries.push({ kind: 'symlink', path: guestPath, target: readlinkSync(hostPath) });
    else if (stat.isDirectory()) entries.push(...treeEntries(hostPath, guestPath, skip));
    else if (stat.isFile()) entries.push({ kind: 'host-file', path: guestPath, mode: stat.mode & 0o7777, source: hostPath, size: stat.size });
  }
  return entries;
}

interface PackageJson {
  name?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

function readPackageJson(dir: string): PackageJson {
  return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/**
 * Where Node finds package `name` imported from a module in `fromDir` (a real path, as Node loads
 * modules by their real paths): the first node_modules/NAME folder in it or in a parent, the walk of
 * ESM's PACKAGE_RESOLVE and of require(). Null when there is none.
 */
function lookupPackage(name: string, fromDir: string): string | null {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (statSync(candidate, { throwIfNoEntry: false })?.isDirectory()) return candidate;
    if (path.dirname(dir) === dir) return null;
  }
}

/** The packages a package needs at run time, as Node resolves them from it. */
export interface RuntimePackages {
  /** Each package's real folder, sorted. */
  dirs: string[];
  /** Folders Node looks a package up under that are links to its real folder (pnpm, npm link): [link, real folder]. */
  links: [string, string][];
}

/**
 * Every package `root` depends on at run time, transitively (devDependencies excluded; peer and
 * optional dependencies included where installed: rtlat serve needs prom-client), each found the way
 * Node finds it from the package that imports it.
 */
export function runtimePackages(root: string): RuntimePackages {
  const found = new Set<string>();
  const links = new Map<string, string>();
  const pending = [realpathSync(root)];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    const manifest = readPackageJson(dir);
    const optional = new Set([...Object.keys(manifest.optionalDependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
    for (const name of new Set([...Object.keys(manifest.dependencies ?? {}), ...optional])) {
      const at = lookupPackage(name, dir);
      if (at === null) {
        if (optional.has(name)) continue;
        throw new Error(`${name}, which ${manifest.name ?? dir} needs at run time, is not installed (run npm install)`);
      }
      const real = realpathSync(at);
      if (real !== at) links.set(at, real);
      if (!found.has(real)) {
        found.add(real);
        pending.push(real);
      }
    }
  }
  return { dirs: [...found].sort(), links: [...links].sort() };
}

/** The folder whose node_modules Node found a package in: /p for /p/node_modules/a and /p/node_modules/a/node_modules/b. */
function lookedUpFrom(packageDir: string): string {
  const parts = packageDir.split(path.sep);
  const at = parts.indexOf('node_modules');
  return at < 0 ? packageDir : parts.slice(0, at).join(path.sep) || path.sep;
}

/** The deepest folder that holds every one of `paths` (absolute). */
function commonAncestor(paths: readonly string[]): string {
  let common = paths[0]!.split(path.sep);
  for (const other of paths.slice(1)) {
    const parts = other.split(path.sep);
    let depth = 0;
    while (depth < common.length && common[depth] === parts[depth]) depth++;
    common = common.slice(0, depth);
  }
  return common.join(path.sep) || path.sep;
}

/** The addon and other native build products node-gyp leaves in build/Release (not its object files). */
function nativeBuildFiles(root: string): string[] {
  const release = path.join(root, 'build', 'Release');
  const files = readdirSync(release, { withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => path.join(release, entry.name));
  if (!files.some((file) => file.endsWith('.node'))) throw new Error(`the addon is not built in ${release} (run npm install)`);
  return files;
}

/**
 * This package as it runs: package.json, bin/, dist/, docs/, build/Release's products, and the packages it
 * needs at run time. They keep the places they have relative to each other on the host, under
 * GUEST_INSTALL_DIR, so that Node in the guest resolves every import as it does on the host (an
 * installed rtlat's dependencies are usually hoisted beside it, not inside it); GUEST_PACKAGE_DIR
 * links to the package's own folder there.
 */
export function packageTree(root: string): GuestFile[] {
  const realRoot = realpathSync(root);
  const { dirs, links } = runtimePackages(realRoot);
  const base = commonAncestor([realRoot, ...[...dirs, ...links.map(([at]) => at)].map(lookedUpFrom)]);
  const inGuest = (hostPath: string) => path.posix.join(GUEST_INSTALL_DIR, ...path.relative(base, hostPath).split(path.sep));
  const entries: GuestFile[] = [
    { kind: 'symlink', path: GUEST_PACKAGE_DIR, target: path.posix.relative(path.posix.dirname(GUEST_PACKAGE_DIR), inGuest(realRoot)) },
    hostFile(path.join(realRoot, 'package.json'), inGuest(path.join(realRoot, 'package.json'))),
  ];
  // docs/ holds the run file's schema, which reading a run file checks (rtlat matrix in a lab host reads the runs it made).
  const folders = ['bin', 'dist', ...(statSync(path.join(realRoot, 'docs'), { throwIfNoEntry: false })?.isDirectory() ? ['docs'] : [])];
  for (const dir of folders) entries.push(...treeEntries(path.join(realRoot, dir), inGuest(path.join(realRoot, dir))));
  for (const file of nativeBuildFiles(realRoot)) entries.push(hostFile(file, inGuest(file)));
  for (const dir of dirs) {
    // A nested node_modules holds packages of its own, which the walk above found if they are needed.
    entries.push(...treeEntries(dir, inGuest(dir), (name) => name === 'node_modules'));
  }
  for (const [at, real] of links) {
    entries.push({ kind: 'symlink', path: inGuest(at), target: path.posix.relative(path.posix.dirname(inGuest(at)), inGuest(real)) });
  }
  return entries;
}

/** packageTree, with the libraries that build/Release's executables (rtlat-load) link. */
export function packageEntries(root: string): GuestFile[] {
  const libraries = nativeBuildFiles(realpathSync(root))
    .filter((file) => !file.endsWith('.node') && statSync(file).mode & 0o111)
    .flatMap((file) => sharedLibraries(file).map((library) => hostFile(library, library, 0o755)));
  return [...packageTree(root), ...libraries];
}
