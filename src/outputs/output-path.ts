// Every output is checked before any work starts, in every command: an hour's measurement must not
// end in "cannot write". The check follows the path as the writer will (src/outputs/atomic-file.ts):
// a file needs a folder that exists, that rtlat may write into, on a file system with space left; a
// stream (a device, a FIFO, a descriptor of this process) needs only to be open for writing.
import { accessSync, constants, fstatSync, mkdirSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { OptionError } from '../errors.js';
import { describeSystemError, resolveOutput, systemError } from './atomic-file.js';

function problem(where: string, error: unknown): string {
  return `${where}: ${describeSystemError(error)}`;
}

/** Throws the system's error unless files can be created in `folder`. */
function checkFolder(folder: string): void {
  accessSync(folder, constants.W_OK | constants.X_OK);
  // Root may use the blocks reserved for it; others only the available ones.
  const { bavail, bfree } = statfsSync(folder);
  if ((process.getuid?.() === 0 ? bfree : bavail) === 0) throw systemError('ENOSPC', 'statfs', folder);
}

/** `file` for `option`, as an absolute path, once it is certain that it can be written; an OptionError (exit 2) says why not. */
export function checkOutputPath(option: string, file: string): string {
  const resolved = path.resolve(file);
  let where = resolved;
  try {
    const target = resolveOutput(resolved);
    if (target.kind === 'stream') {
      if (target.fd !== null) fstatSync(target.fd);
      else accessSync(target.path, constants.W_OK);
    } else {
      where = path.dirname(target.path);
      checkFolder(where);
    }
  } catch (error) {
    throw new OptionError(option, file, `a file path in an existing, writable folder; ${problem(where, error)}`);
  }
  return resolved;
}

/** `folder` for `option`, created when missing, as an absolute path, once files can be written into it. */
export function checkOutputFolder(option: string, folder: string): string {
  const resolved = path.resolve(folder);
  try {
    mkdirSync(resolved, { recursive: true });
    checkFolder(resolved);
  } catch (error) {
    throw new OptionError(option, folder, `a folder rtlat can create or write into; ${problem(resolved, error)}`);
  }
  return resolved;
}
