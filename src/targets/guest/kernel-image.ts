// What QEMU is given is checked before anything is built or booted, so that a wrong file is one line
// and exit 2, not QEMU's own text after a minute of building the guest's image.
import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { OptionError } from '../../errors.js';

/** Linux's x86 boot protocol: "HdrS" at 0x202 of a bzImage, the format QEMU's -kernel boots with -initrd and -append. */
const BOOT_HEADER_OFFSET = 0x202;
const BOOT_HEADER_MAGIC = 'HdrS';

function bootHeader(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const magic = Buffer.alloc(BOOT_HEADER_MAGIC.length);
    const read = readSync(fd, magic, 0, magic.length, BOOT_HEADER_OFFSET);
    return magic.subarray(0, read).toString('latin1');
  } finally {
    closeSync(fd);
  }
}

/** `file` as an absolute path when it is a kernel QEMU can boot (a bzImage, such as Debian's /boot/vmlinuz-*); an OptionError otherwise. */
export function checkKernelImage(option: string, file: string): string {
  const accepted = 'a bzImage kernel file such as /boot/vmlinuz-*';
  const resolved = path.resolve(file);
  const stats = statSync(resolved, { throwIfNoEntry: false });
  if (!stats) throw new OptionError(option, file, `${accepted} (no such file)`);
  if (!stats.isFile()) throw new OptionError(option, file, `${accepted} (this is not a regular file)`);
  if (stats.size === 0) throw new OptionError(option, file, `${accepted} (this file is empty)`);
  let magic: string;
  try {
    magic = bootHeader(resolved);
  } catch (error) {
    throw new OptionError(option, file, `${accepted} (cannot read it: ${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (magic !== BOOT_HEADER_MAGIC) throw new OptionError(option, file, `${accepted} (this file has no Linux boot header)`);
  return resolved;
}

/** The release a bzImage says it is ("6.1.0-57-cloud-amd64"): its boot header's kernel_version string; null for another kind of file. */
export function kernelImageRelease(image: string): string | null {
  const fd = openSync(image, 'r');
  try {
    const header = Buffer.alloc(0x210);
    if (readSync(fd, header, 0, header.length, 0) < header.length || header.toString('latin1', BOOT_HEADER_OFFSET, BOOT_HEADER_OFFSET + 4) !== BOOT_HEADER_MAGIC) return null;
    // kernel_version: the string's offset from the setup header's start (0x200).
    const version = Buffer.alloc(256);
    const read = readSync(fd, version, 0, version.length, header.readUInt16LE(0x20e) + 0x200);
    const text = version.toString('latin1', 0, read);
    return /^(\S+)/.exec(text.slice(0, Math.max(0, text.indexOf('\0'))))?.[1] ?? null;
  } finally {
    closeSync(fd);
  }
}

/** `file` when it is a QEMU that runs (its --version says "QEMU emulator"); an OptionError otherwise. */
export function checkQemuBinary(option: string, file: string): string {
  const accepted = 'an executable QEMU, such as /usr/bin/qemu-system-x86_64';
  try {
    accessSync(file, constants.X_OK);
  } catch (error) {
    throw new OptionError(option, file, `${accepted} (${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'not executable'})`);
  }
  if (!statSync(file).isFile()) throw new OptionError(option, file, `${accepted} (this is not a regular file)`);
  const version = spawnSync(file, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (version.status !== 0 || !/QEMU emulator version/.test(version.stdout ?? '')) {
    throw new OptionError(option, file, `${accepted} (its --version does not say "QEMU emulator version")`);
  }
  return file;
}
