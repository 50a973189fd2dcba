import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { OptionError } from '../errors.js';

/** Output files must be creatable before any work starts: an existing, writable folder, not a folder itself. */
export function checkOutputPath(option: string, file: string): string {
  const resolved = path.resolve(file);
  const accepted = 'a file path in an existing, writable folder';
  try {
    accessSync(path.dirname(resolved), constants.W_OK);
    if (statSync(resolved, { throwIfNoEntry: false })?.isDirectory()) throw new Error('a folder');
  } catch {
    throw new OptionError(option, file, accepted);
  }
  return resolved;
}
