// tracefs as rtlat uses it: mounted where it is not, an instance of rtlat's own (instances/rtlat-<pid>)
// so that the user's own tracing is never touched, and the instances of killed rtlat runs removed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PlatformError, PrivilegeError } from '../errors.js';

export const TRACEFS_MOUNT = '/sys/kernel/tracing';
const DEBUGFS_TRACING = '/sys/kernel/debug/tracing';
const INSTANCE_PREFIX = 'rtlat-';
const CLOCK_TICKS_PER_SECOND = 100;

function isTracefs(dir: string): boolean {
  return existsSync(path.join(dir, 'instances')) && existsSync(path.join(dir, 'events'));
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function refused(what: string, error: unknown): Error {
  const code = errnoOf(error);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new PrivilegeError(
      `rtlat: not permitted: ${what} (${code}). --explain traces the kernel: run as root (or with CAP_SYS_ADMIN and tracefs ` +
        'writable), in a container with --privileged or a writable /sys/kernel/tracing',
      [`${what} (${code})`],
    );
  }
  return new Error(`rtlat: ${what}: ${(error as Error).message}`);
}

/** The mounted tracefs; mounts it on /sys/kernel/tracing when it is mounted nowhere (as `mount -t tracefs nodev` would). */
export function tracefsRoot(): string {
  for (const dir of [TRACEFS_MOUNT, DEBUGFS_TRACING]) if (isTracefs(dir)) return dir;
  try {
    readdirSync(TRACEFS_MOUNT);
  } catch (error) {
    // Mounted, but root's alone (tracefs is mode 700).
    if (errnoOf(error) === 'EACCES') throw refused(`reading ${TRACEFS_MOUNT}`, error);
  }
  if (!existsSync(TRACEFS_MOUNT)) {
    throw new PlatformError('rtlat: --explain needs tracefs, and this kernel has no /sys/kernel/tracing (CONFIG_TRACING is off)');
  }
  const mounted = spawnSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS_MOUNT], { encoding: 'utf8' });
  if (mounted.status !== 0 || !isTracefs(TRACEFS_MOUNT)) {
    const why = (mounted.stderr ?? mounted.error?.message ?? '').trim().split('\n')[0] || `exit code ${mounted.status}`;
    throw new PrivilegeError(
      `rtlat: not permitted: mounting tracefs on ${TRACEFS_MOUNT} (${why}). --explain traces the kernel: run as root, or mount it first ` +
        `(\`mount -t tracefs nodev ${TRACEFS_MOUNT}\`)`,
      [`mounting tracefs (${why})`],
    );
  }
  return TRACEFS_MOUNT;
}

/** The tracers this kernel offers (available_tracers), e.g. ["timerlat", "osnoise", "function", "nop"]; null without tracefs. */
export function availableTracers(root: string | null = findTracefs()): string[] | null {
  if (root === null) return null;
  try {
    return readFileSync(path.join(root, 'available_tracers'), 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return null;
  }
}

/** The mounted tracefs, without mounting it; null when it is mounted nowhere. */
export function findTracefs(): string | null {
  return [TRACEFS_MOUNT, DEBUGFS_TRACING].find(isTracefs) ?? null;
}

/** When process `pid` started (ms since the epoch), from /proc; null when it does not exist. */
function processStartMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]);
    const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    return (bootSeconds + startTicks / CLOCK_TICKS_PER_SECOND) * 1000;
  } catch {
    return null;
  }
}

/**
 * Removes the instances of rtlat runs that no longer exist (killed, so they could not clean up): an
 * instance rtlat-<pid> whose process is gone, or whose PID now belongs to a process that started after
 * the instance was made. Returns the names removed.
 */
export function removeStaleInstances(root: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(path.join(root, 'instances'));
  } catch {
    return removed;
  }
  for (const name of names) {
    const match = new RegExp(`^${INSTANCE_PREFIX}(\\d+)$`).exec(name);
    if (!match) continue;
    const dir = path.join(root, 'instances', name);
    const startedMs = processStartMs(Number(match[1]));
    // A second of slack: /proc/stat's boot time is whole seconds.
    if (startedMs !== null && startedMs <= statSync(dir).mtimeMs + 1000) continue;
    try {
      rmdirSync(dir);
      removed.push(name);
    } catch {
      // Still busy (its files open): it is not stale after all, or another run removes it first.
    }
  }
  return removed;
}

/** Per-CPU figures of an instance's ring buffer (per_cpu/cpuN/stats). */
export interface BufferStats {
  entries: number;
  /** Events overwritten before they were read (the buffer overwrites its oldest pages when full). */
  overrun: number;
  commitOverrun: number;
  /** Events refused because the buffer was full (when not overwriting). */
  dropped: number;
  read: number;
}

function statsField(text: string, name: string): number {
  return Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

/** The tracing_cpumask text for `cpus`: hex, in comma-separated groups of 32 CPUs as the kernel prints it. */
export function cpuMaskHex(cpus: readonly number[]): string {
  const words = new Array<number>(Math.floor(Math.max(0, ...cpus) / 32) + 1).fill(0);
  for (const cpu of cpus) words[cpu >> 5]! |= 1 << (cpu & 31);
  return words
    .reverse()
    .map((word) => (word >>> 0).toString(16).padStart(8, '0'))
    .join(',');
}

/** A tracefs instance of rtlat's own; nothing outside its folder is written. */
export class TraceInstance {
  private removed = false;

  private constructor(
    readonly root: string,
    readonly name: string,
  ) {}

  /** Creates instances/rtlat-<pid> (removing a leftover of the same name first). */
  static create(root: string, name = `${INSTANCE_PREFIX}${process.pid}`): TraceInstance {
    const dir = path.join(root, 'instances', name);
    try {
      if (existsSync(dir)) rmdirSync(dir);
      mkdirSync(dir);
    } catch (error) {
      throw refused(`creating the tracefs instance ${dir}`, error);
    }
    return new TraceInstance(root, name);
  }

  get dir(): string {
    return path.join(this.root, 'instances', this.name);
  }

  file(relative: string): string {
    return path.join(this.dir, relative);
  }

  write(relative: string, value: string): void {
    try {
      writeFileSync(this.file(relative), value);
    } catch (error) {
      throw refused(`writing ${JSON.stringify(value)} to ${this.file(relative)}`, error);
    }
  }

  read(relative: string): string {
    return readFileSync(this.file(relative), 'utf8');
  }

  /** Sets the trace clock; throws when this kernel does not offer it. */
  setClock(clock: string): void {
    const offered = this.read('trace_clock').replace(/[[\]]/g, '').trim().split(/\s+/);
    if (!offered.includes(clock)) throw new PlatformError(`rtlat: the trace clock "${clock}" is not offered by this kernel (trace_clock: ${offered.join(', ')})`);
    this.write('trace_clock', clock);
  }

  /** Enables system/event, with an optional filter; false when this kernel has no such event. */
  enableEvent(system: string, event: string, filter?: string): boolean {
    if (!existsSync(this.file(`events/${system}/${event}/enable`))) return false;
    if (filter !== undefined) this.write(`events/${system}/${event}/filter`, filter);
    this.write(`events/${system}/${event}/enable`, '1');
    return true;
  }

  bufferStats(cpu: number): BufferStats {
    const text = this.read(`per_cpu/cpu${cpu}/stats`);
    return {
      entries: statsField(text, 'entries'),
      overrun: statsField(text, 'overrun'),
      commitOverrun: statsField(text, 'commit overrun'),
      dropped: statsField(text, 'dropped events'),
      read: statsField(text, 'read events'),
    };
  }

  /** Stops tracing and removes the instance; idempotent. Its files must be closed first (rmdir says EBUSY). */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    try {
      writeFileSync(this.file('tracing_on'), '0');
    } catch {
      // Gone already.
    }
    try {
      rmdirSync(this.dir);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw refused(`removing the tracefs instance ${this.dir}`, error);
    }
  }
}
