// Output files appear whole or not at all: written to a temporary file beside the target, then renamed.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

function temporaryPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
}

/** Writes `content` to `target` atomically. */
export function writeFileAtomic(target: string, content: string | Uint8Array): void {
  const file = new AtomicFile(target);
  try {
    file.write(content);
    file.commit();
  } catch (error) {
    file.abandon();
    throw error;
  }
}

/** A file written in pieces (e.g. a log that grows during a run) that appears at `target` only on commit(). */
export class AtomicFile {
  readonly target: string;
  private readonly temporary: string;
  private fd: number | null;

  constructor(target: string) {
    this.target = target;
    this.temporary = temporaryPathFor(target);
    this.fd = openSync(this.temporary, 'wx', 0o644);
  }

  write(content: string | Uint8Array): void {
    if (this.fd === null) throw new Error(`rtlat: ${this.target} was already committed or abandoned`);
    if (typeof content === 'string') writeSync(this.fd, content);
    else writeSync(this.fd, content);
  }

  commit(): void {
    if (this.fd === null) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
    renameSync(this.temporary, this.target);
  }

  /** Removes the temporary file; the target is left as it was. */
  abandon(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    rmSync(this.temporary, { force: true });
  }
}
