// Which files of the lab's command go in and which come back. rtlat lab does not know the inner
// command's options, so it reads paths off its command line: every argument, `--option=value`'s value,
// and within each the comma-separated items, what follows `LABEL=` and what precedes `:GUEST`
// (`--kernels nrt=/boot/a,rt=/boot/b`, `--initrd-extra /x:/y`). Relative ones are taken from the working
// folder, which the command gets in the lab host too. Those that exist here go into the lab host at the
// same paths; once the command has ended, every file at those paths that it created or changed comes
// back to the same path here.
import { lstatSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** A folder named on the command line is copied into the lab host only up to this size. */
export const MAX_INPUT_DIR_BYTES = 64 << 20;

/** Paths never taken from a command line: the lab host has its own. */
const SYSTEM_PREFIXES = ['/proc', '/sys', '/dev', '/run'];

/** Every candidate path in `args`, absolute, in order, once each. */
export function commandLinePaths(args: readonly string[], cwd: string): string[] {
  const found = new Set<string>();
  for (const arg of args) {
    let value = arg;
    if (arg.startsWith('-')) {
      const equals = arg.indexOf('=');
      if (equals < 0) continue;
      value = arg.slice(equals + 1);
    }
    for (const item of value.split(',')) {
      const equals = item.indexOf('=');
      const pieces = [item, equals >= 0 ? item.slice(equals + 1) : '', item.split(':', 1)[0]!];
      for (const piece of pieces) {
        if (piece === '' || /\s/.test(piece)) continue;
        const absolute = path.resolve(cwd, piece);
        if (absolute === '/' || SYSTEM_PREFIXES.some((prefix) => absolute === prefix || absolute.startsWith(`${prefix}/`))) continue;
        found.add(absolute);
      }
    }
  }
  return [...found];
}

function treeBytes(dir: string, limit: number): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    total += entry.isDirectory() ? treeBytes(file, limit - total) : lstatSync(file).size;
    if (total > limit) return total;
  }
  return total;
}

export interface CommandInput {
  path: string;
  kind: 'file' | 'directory';
}

/** The candidates that exist here (files through symbolic links too); a folder over MAX_INPUT_DIR_BYTES is an error. */
export function commandInputs(candidates: readonly string[]): CommandInput[] {
  const inputs: CommandInput[] = [];
  for (const candidate of candidates) {
    const stat = statSync(candidate, { throwIfNoEntry: false });
    if (stat?.isFile()) inputs.push({ path: candidate, kind: 'file' });
    else if (stat?.isDirectory()) {
      if (treeBytes(candidate, MAX_INPUT_DIR_BYTES) > MAX_INPUT_DIR_BYTES) {
        throw new Error(`${candidate}, a folder on the command line, holds more than ${MAX_INPUT_DIR_BYTES >> 20} MB: too much to copy into the lab host (name the files in it instead)`);
      }
      inputs.push({ path: candidate, kind: 'directory' });
    }
  }
  return inputs;
}

/** True when `file`, sent back by the lab host, is one of the candidates or inside one: nothing else is written here. */
export function isReturnable(file: string, candidates: readonly string[]): boolean {
  const normalized = path.resolve(file);
  return normalized === file && candidates.some((candidate) => normalized === candidate || normalized.startsWith(`${candidate}/`));
}
