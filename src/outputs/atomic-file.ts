// Every file rtlat writes goes through here, so that each one appears whole or not at all. A path is
// followed through symbolic links to what it names: a regular file (or none yet) is written to a
// temporary file beside the real target, every byte, fsync'ed and renamed over it; a character
// device, FIFO or socket (/dev/null, a named pipe, `/proc/self/fd/1` behind a link) is a stream and
// is written in place. Any failure removes the temporary file and throws an OutputError that names
// the output: the CLI prints it as one line.
import { closeSync, constants, fchmodSync, fsyncSync, lstatSync, openSync, readlinkSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import { getSystemErrorMap } from 'node:util';

/** "no space left on device (ENOSPC)": the C library's text and the code, as rtlat prints system errors. */
export function describeSystemError(error: unknown): string {
  const { code, errno } = (error ?? {}) as NodeJS.ErrnoException;
  const text = errno === undefined ? undefined : getSystemErrorMap().get(errno)?.[1];
  if (code && text) return `${text} (${code})`;
  return code ?? (error instanceof Error ? error.message : String(error));
}

/** An output could not be written; nothing partial was left at its path. */
export class OutputError extends Error {
  /** The path as the caller named it. */
  readonly path: string;
  /** The system error's code (ENOSPC, EROFS, EPIPE, ...), when there was one. */
  readonly code: string | undefined;

  constructor(shown: string, cause: unknown) {
    super(`cannot write ${shown}: ${describeSystemError(cause)}`, { cause });
    this.name = 'OutputError';
    this.path = shown;
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/** Where writing `file` actually goes. */
export type OutputTarget =
  /** A regular file, existing or not, at its real path (links followed). */
  | { kind: 'file'; path: string; existing: Stats | null }
  /** Written in place: a device, FIFO or socket at `path`, or one of this process's open descriptors. */
  | { kind: 'stream'; path: string; fd: number | null };

/** /proc/self/fd/N (and /dev/stdout, /dev/fd/N, which link there): this process's descriptor N, shared with whoever else writes it. */
const OWN_DESCRIPTOR = new RegExp(`^/proc/(?:self|thread-self|${process.pid})/fd/(\\d+)$`);
/** As the kernel's path walk: more links than this is a loop. */
const MAX_LINKS = 40;

/** An error as the system would have raised it, for conditions rtlat finds itself (a loop of links, a full disk found by statfs). */
export function systemError(code: string, syscall: string, file: string): NodeJS.ErrnoException {
  const errno = [...getSystemErrorMap()].find(([, [name]]) => name === code)?.[0];
  return Object.assign(new Error(`${code}: ${syscall} '${file}'`), { code, errno, syscall, path: file });
}

function isStream(stats: Stats): boolean {
  return stats.isCharacterDevice() || stats.isFIFO() || stats.isSocket();
}

/** Follows `file` through its links to what a write would reach; throws the system's error (ELOOP, EISDIR) when it cannot be written. */
export function resolveOutput(file: string): OutputTarget {
  let current = path.resolve(file);
  for (let links = 0; links <= MAX_LINKS; links++) {
    const own = OWN_DESCRIPTOR.exec(current);
    if (own) return { kind: 'stream', path: current, fd: Number(own[1]) };
    const stats = lstatSync(current, { throwIfNoEntry: false });
    if (!stats) return { kind: 'file', path: current, existing: null };
    if (stats.isSymbolicLink()) {
      const next = path.resolve(path.dirname(current), readlinkSync(current));
      if (!OWN_DESCRIPTOR.test(next) && !lstatSync(next, { throwIfNoEntry: false })) {
        // Another process's descriptor links to "pipe:[1234]", a name that is no path: opening the link itself reaches it.
        const reached = statSync(current, { throwIfNoEntry: false });
        if (reached && isStream(reached)) return { kind: 'stream', path: current, fd: null };
      }
      // Else a link to follow; one to nothing yet has its target created.
      current = next;
      continue;
    }
    if (isStream(stats)) return { kind: 'stream', path: current, fd: null };
    if (stats.isDirectory()) throw systemError('EISDIR', 'open', current);
    return { kind: 'file', path: current, existing: stats };
  }
  throw systemError('ELOOP', 'open', file);
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Writes every byte of `data`: write(2) may write less than asked (a nearly full disk), or nothing yet (a non-blocking pipe). */
function writeFully(fd: number, data: Uint8Array): void {
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += writeSync(fd, data, offset, data.length - offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      // A pipe whose reader is behind (Node makes stdout's pipe non-blocking): wait as a blocking write would.
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

function temporaryPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}.tmp`);
}

/** A file written in pieces (e.g. a log that grows during a run) that appears at its path only on commit(). */
export class AtomicFile {
  /** The path as given: what errors name. */
  readonly path: string;
  private readonly target: OutputTarget;
  private readonly temporary: string | null = null;
  private fd: number | null = null;
  /** Whether fd is ours to close (not a descriptor of the process's own, such as stdout). */
  private ownsFd = true;

  constructor(file: string) {
    this.path = file;
    try {
      this.target = resolveOutput(file);
      if (this.target.kind === 'stream') {
        if (this.target.fd !== null) {
          this.fd = this.target.fd;
          this.ownsFd = false;
        } else {
          this.fd = openSync(this.target.path, constants.O_WRONLY);
        }
      } else {
        this.temporary = temporaryPathFor(this.target.path);
        this.fd = openSync(this.temporary, 'wx', 0o666);
        // A replaced file keeps its permissions; a new one gets the umask's.
        if (this.target.existing) fchmodSync(this.fd, this.target.existing.mode & 0o7777);
      }
    } catch (error) {
      this.abandon();
      throw this.failed(error);
    }
  }

  write(content: string | Uint8Array): void {
    if (this.fd === null) throw new Error(`rtlat: ${this.path} was already committed or abandoned`);
    try {
      writeFully(this.fd, typeof content === 'string' ? Buffer.from(content) : content);
    } catch (error) {
      this.abandon();
      throw this.failed(error);
    }
  }

  /** Makes the file appear at its path, whole: on disk (fsync) before the rename. */
  commit(): void {
    if (this.fd === null) return;
    try {
      if (this.temporary !== null) {
        fsyncSync(this.fd);
        closeSync(this.fd);
        this.fd = null;
        renameSync(this.temporary, this.target.path);
        syncFolder(path.dirname(this.target.path));
      } else {
        this.close();
      }
    } catch (error) {
      this.abandon();
      throw this.failed(error);
    }
  }

  /** Removes the temporary file; the target is left as it was (a stream keeps what it was sent). */
  abandon(): void {
    try {
      this.close();
    } catch {
      // Closing after a failed write can fail again (EIO, ENOSPC on NFS); the temporary file goes regardless.
    }
    if (this.temporary) rmSync(this.temporary, { force: true });
  }

  private close(): void {
    const fd = this.fd;
    this.fd = null;
    if (fd !== null && this.ownsFd) closeSync(fd);
  }

  private failed(error: unknown): OutputError {
    if (error instanceof OutputError) return error;
    const real = this.target?.path;
    const shown = real && real !== path.resolve(this.path) && this.target.kind === 'file' ? `${this.path} (-> ${real})` : this.path;
    return new OutputError(shown, error);
  }
}

/** The rename is durable once the folder's entry is: fsync the folder too, where the file system can. */
function syncFolder(folder: string): void {
  const fd = openSync(folder, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } catch (error) {
    // Some file systems cannot fsync a folder (EINVAL); the file itself is on disk.
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
  } finally {
    closeSync(fd);
  }
}

/** Writes `content` to `file` whole, or throws an OutputError and leaves `file` as it was. */
export function writeFileAtomic(file: string, content: string | Uint8Array): void {
  const output = new AtomicFile(file);
  output.write(content);
  output.commit();
}
