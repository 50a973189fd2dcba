// A writer of the cpio "newc" format, the one the Linux kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst). Written here rather than through the
// cpio tool so that a guest image needs nothing but Node on the host, and so that its contents come
// from one list in initramfs.ts instead of a staging tree on disk.
import { closeSync, openSync, readSync } from 'node:fs';

export type CpioEntry =
  | { kind: 'directory'; path: string; mode: number }
  | { kind: 'file'; path: string; mode: number; data: Uint8Array }
  /** A file copied from the host: streamed, never held whole in memory (node is ~100 MB). */
  | { kind: 'host-file'; path: string; mode: number; source: string; size: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'char-device'; path: string; mode: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const TRAILER = 'TRAILER!!!';
const COPY_CHUNK = 1 << 20;

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}

function padding(length: number): Uint8Array {
  return new Uint8Array((4 - (length % 4)) % 4);
}

/** Receives the archive's bytes in order. */
export type CpioSink = (chunk: Uint8Array) => void;

/**
 * Writes `entries` as one newc archive, ending with the trailer. Paths are relative to the archive's
 * root ("init", "usr/bin/node"); a directory must come before what it holds, as the kernel creates
 * each entry as it reads it. Times are 0 so that equal contents make equal archives.
 */
export function writeCpio(entries: readonly CpioEntry[], sink: CpioSink): void {
  let inode = 1;
  const header = (path: string, mode: number, size: number, rdev: { major: number; minor: number } | null): void => {
    const name = Buffer.from(`${path.replace(/^\/+/, '')}\0`);
    const fields = [inode++, mode, 0, 0, (mode & S_IFDIR) === S_IFDIR ? 2 : 1, 0, size, 0, 0, rdev?.major ?? 0, rdev?.minor ?? 0, name.length, 0];
    const text = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
    sink(text);
    sink(name);
    sink(padding(text.length + name.length));
  };

  for (const entry of entries) {
    switch (entry.kind) {
      case 'directory':
        header(entry.path, S_IFDIR | entry.mode, 0, null);
        break;
      case 'file':
        header(entry.path, S_IFREG | entry.mode, entry.data.length, null);
        sink(entry.data);
        sink(padding(entry.data.length));
        break;
      case 'host-file':
        header(entry.path, S_IFREG | entry.mode, entry.size, null);
        copyHostFile(entry.source, entry.size, sink);
        sink(padding(entry.size));
        break;
      case 'symlink': {
        const target = Buffer.from(entry.target);
        header(entry.path, S_IFLNK | 0o777, target.length, null);
        sink(target);
        sink(padding(target.length));
        break;
      }
      case 'char-device':
        header(entry.path, S_IFCHR | entry.mode, 0, entry);
        break;
    }
  }
  header(TRAILER, 0, 0, null);
}

function copyHostFile(source: string, size: number, sink: CpioSink): void {
  const fd = openSync(source, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(COPY_CHUNK, Math.max(size, 1)));
    let copied = 0;
    while (copied < size) {
      const read = readSync(fd, buffer, 0, Math.min(buffer.length, size - copied), copied);
      if (read === 0) throw new Error(`${source} shrank while it was being archived (${copied} of ${size} bytes)`);
      sink(buffer.subarray(0, read));
      copied += read;
    }
  } finally {
    closeSync(fd);
  }
}

/** The archive as one buffer (for small archives: the per-run part, tests). */
export function cpioBuffer(entries: readonly CpioEntry[]): Buffer {
  const chunks: Uint8Array[] = [];
  writeCpio(entries, (chunk) => chunks.push(Buffer.from(chunk)));
  return Buffer.concat(chunks);
}
