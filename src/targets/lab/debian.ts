// Debian packages for a lab host, fetched as scripts/fetch-kernels.sh fetches the test kernels: the
// version apt would install now (`apt-cache show`, and `apt-get update` once when apt knows nothing),
// `apt-get download`, `dpkg -x` into a folder of its own. Nothing is installed on this machine. Each
// package lands in CACHE/packages/NAME_VERSION whole or not at all (unpacked beside it, then renamed),
// so a warm cache needs no network and an interrupted fetch is fetched again.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

export interface DebianPackage {
  name: string;
  version: string;
  /** Where its files are: its unpacked folder, or / for a package installed on this machine. */
  root: string;
}

interface Command {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], cwd?: string): Command {
  const result = spawnSync(command, args, { encoding: 'utf8', cwd, maxBuffer: 64 << 20 });
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(missing ? `${command} is needed to fetch the lab's Debian packages (a Debian or Ubuntu machine)` : `${command}: ${result.error.message}`);
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '' && !line.includes('unsandboxed as root'))?.trim() ?? '';
}

/** A version as a file name: apt-get download writes an epoch's colon as %3a. */
function fileVersion(version: string): string {
  return version.replace(/:/g, '%3a');
}

/** The packages `apt-cache depends` lists as Depends (alternatives: the first), by package. */
export function parseDepends(text: string): Map<string, string[]> {
  const depends = new Map<string, string[]>();
  let current: string[] | null = null;
  let alternative = false;
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) {
      current = [];
      depends.set(line.trim(), current);
      alternative = false;
      continue;
    }
    const match = /^\s+(\|?)Depends: (\S+)/.exec(line);
    if (!match || current === null) continue;
    // "|Depends: a" is followed by its alternative "Depends: b": keep a.
    if (!alternative && !match[2]!.startsWith('<')) current.push(match[2]!.replace(/:any$/, ''));
    alternative = match[1] === '|';
  }
  return depends;
}

export class DebianCache {
  private updated = false;

  constructor(
    readonly dir: string,
    private readonly say: (line: string) => void = () => {},
  ) {}

  /** The version apt would install, or null when it knows no such package. */
  private candidate(name: string): string | null {
    const shown = run('apt-cache', ['show', '--no-all-versions', name]);
    return shown.status === 0 ? (/^Version: (\S+)$/m.exec(shown.stdout)?.[1] ?? null) : null;
  }

  /** apt's package lists, read once more after `apt-get update` when a name is unknown (CI's fresh machine has none). */
  private resolve<T>(what: string, lookUp: () => T | null): T | null {
    const found = lookUp();
    if (found !== null || this.updated) return found;
    this.updated = true;
    this.say(`apt knows no ${what}: apt-get update`);
    const update = run('apt-get', ['update', '-qq']);
    if (update.status !== 0) throw new Error(`apt-get update failed (it needs root and Debian's archive in the apt sources): ${firstLine(update.stderr)}`);
    return lookUp();
  }

  /** The version installed on this machine, or null. */
  installedVersion(name: string): string | null {
    const query = run('dpkg-query', ['-W', '-f=${Status} ${Version}', name]);
    const match = /^install ok installed (\S+)/.exec(query.stdout);
    return query.status === 0 && match ? match[1]! : null;
  }

  /** The package matching `pattern` a meta-package depends on: linux-image-amd64 -> linux-image-6.1.0-57-amd64. */
  dependencyOf(meta: string, pattern: RegExp): string {
    const found = this.resolve(meta, () => {
      const listed = run('apt-cache', ['depends', meta]);
      return listed.status === 0 ? (parseDepends(listed.stdout).get(meta)?.find((name) => pattern.test(name)) ?? null) : null;
    });
    if (found !== null) return found;
    const cached = this.cachedNames().filter((name) => pattern.test(name)).sort();
    if (cached.length > 0) return cached.at(-1)!;
    throw new Error(`apt knows no ${meta}, even after apt-get update (is Debian's archive in the apt sources?)`);
  }

  /**
   * The library packages (lib*) `names` depend on, transitively, that this machine does not have
   * installed: the lab host gets the machine's own libraries where they exist.
   */
  missingLibraries(names: readonly string[]): string[] {
    const missing = new Set<string>();
    const seen = new Set<string>(names);
    let pending = [...names];
    while (pending.length > 0) {
      const listed = this.resolve(pending.join(' '), () => {
        const result = run('apt-cache', ['depends', ...pending]);
        return result.status === 0 ? parseDepends(result.stdout) : null;
      });
      if (listed === null) throw new Error(`apt-cache depends ${pending.join(' ')} failed`);
      const next: string[] = [];
      for (const dependency of [...listed.values()].flat()) {
        if (seen.has(dependency) || !dependency.startsWith('lib')) continue;
        seen.add(dependency);
        if (this.installedVersion(dependency) !== null) continue;
        missing.add(dependency);
        next.push(dependency);
      }
      pending = next;
    }
    return [...missing].sort();
  }

  private packagesDir(): string {
    return path.join(this.dir, 'packages');
  }

  private cachedNames(): string[] {
    if (!existsSync(this.packagesDir())) return [];
    return readdirSync(this.packagesDir())
      .filter((entry) => !entry.startsWith('.'))
      .map((entry) => entry.slice(0, entry.lastIndexOf('_')));
  }

  /** The newest unpacked version of `name` in the cache (by name order), for a machine whose apt cannot say. */
  private cachedPackage(name: string): DebianPackage | null {
    if (!existsSync(this.packagesDir())) return null;
    const entries = readdirSync(this.packagesDir())
      .filter((entry) => entry.startsWith(`${name}_`))
      .sort();
    const newest = entries.at(-1);
    return newest ? { name, version: newest.slice(name.length + 1).replace(/%3a/g, ':'), root: path.join(this.packagesDir(), newest) } : null;
  }

  /** `name` unpacked, fetched first unless cached: the version apt would install now. */
  fetch(name: string): DebianPackage {
    const version = this.resolve(name, () => this.candidate(name));
    if (version === null) {
      const cached = this.cachedPackage(name);
      if (cached) return cached;
      throw new Error(`apt knows no package ${name}, even after apt-get update`);
    }
    const root = path.join(this.packagesDir(), `${name}_${fileVersion(version)}`);
    if (existsSync(root)) return { name, version, root };

    mkdirSync(this.packagesDir(), { recursive: true });
    const work = mkdtempSync(path.join(this.packagesDir(), `.fetch-${name}-`));
    try {
      this.say(`fetching ${name} ${version}`);
      // apt-get download writes into its working folder; as root it warns that _apt cannot read it.
      const download = run('apt-get', ['download', '-qq', `${name}=${version}`], work);
      const deb = readdirSync(work).find((entry) => entry.endsWith('.deb'));
      if (download.status !== 0 || deb === undefined) throw new Error(`apt-get download ${name}=${version} failed: ${firstLine(download.stderr) || `exit status ${download.status}`}`);
      const unpacked = path.join(work, 'root');
      const extract = run('dpkg', ['-x', path.join(work, deb), unpacked]);
      if (extract.status !== 0) throw new Error(`dpkg -x ${deb} failed: ${firstLine(extract.stderr)}`);
      renameSync(unpacked, root);
      return { name, version, root };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  /** This machine's installed copy of `name` when it has one, else fetched. */
  installedOrFetched(name: string): DebianPackage {
    const version = this.installedVersion(name);
    return version === null ? this.fetch(name) : { name, version, root: '/' };
  }
}
