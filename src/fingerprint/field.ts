// Every fingerprint value says where it came from, or why it is missing: a result file read a year
// later must tell "the kernel said so" from "we guessed" from "we could not look".
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { parseCpuList } from '../units.js';

export interface KnownField<T> {
  value: T;
  /** The file (as the kernel names it, without any fixture root) or the method the value came from. */
  source: string;
}

export interface UnknownField {
  value: null;
  reason: string;
}

export type Field<T> = KnownField<T> | UnknownField;

export function known<T>(value: T, source: string): KnownField<T> {
  return { value, source };
}

export function unknown(reason: string): UnknownField {
  return { value: null, reason };
}

export function isKnown<T>(field: Field<T>): field is KnownField<T> {
  return field.value !== null;
}

/** Derives one field from another; a parser that throws gives a reason, never an exception. */
export function mapField<T, U>(field: Field<T>, derive: (value: T, source: string) => Field<U>): Field<U> {
  if (!isKnown(field)) return field;
  try {
    return derive(field.value, field.source);
  } catch (error) {
    return unknown(`${field.source}: could not be parsed (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** The first field that is known, else the last one's reason joined with the others'. */
export function firstKnown<T>(...fields: Field<T>[]): Field<T> {
  for (const field of fields) if (isKnown(field)) return field;
  const reasons = fields.map((field) => (field as UnknownField).reason);
  return unknown(reasons.join('; '));
}

function describeError(file: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return `${file} is absent`;
    case 'EACCES':
    case 'EPERM':
      return `${file} is not readable by this user`;
    case 'EISDIR':
      return `${file} is a directory`;
    default:
      return `${file} could not be read (${code ?? String(error)})`;
  }
}

/**
 * Reads /proc, /sys, /boot and /run under a root, so that fixture trees can stand in for a machine.
 * Paths are given as the kernel names them ('/proc/cmdline'); sources and reasons use those names too.
 * Each file is read once per instance: several fields come from the same file (cmdline, config).
 */
export class SystemFiles {
  readonly root: string;
  private readonly texts = new Map<string, Field<string>>();

  constructor(root = '/') {
    this.root = root;
  }

  resolve(file: string): string {
    return path.join(this.root, file);
  }

  /** The file's text, without its trailing newline. */
  text(file: string): Field<string> {
    let cached = this.texts.get(file);
    if (cached === undefined) {
      try {
        cached = known(readFileSync(this.resolve(file), 'utf8').replace(/\n$/, ''), file);
      } catch (error) {
        cached = unknown(describeError(file, error));
      }
      this.texts.set(file, cached);
    }
    return cached;
  }

  /** The file's text, trimmed; an empty file is a value (''), not a missing one. */
  trimmed(file: string): Field<string> {
    return mapField(this.text(file), (text, source) => known(text.trim(), source));
  }

  bytes(file: string): Field<Buffer> {
    try {
      return known(readFileSync(this.resolve(file)), file);
    } catch (error) {
      return unknown(describeError(file, error));
    }
  }

  integer(file: string): Field<number> {
    return mapField(this.trimmed(file), (text, source) => {
      const value = Number(text);
      return /^-?\d+$/.test(text) && Number.isSafeInteger(value) ? known(value, source) : unknown(`${source} holds ${JSON.stringify(text)}, not a whole number`);
    });
  }

  /** A kernel CPU list ("0-3,6"; empty or "(null)" when no CPU is in it). */
  cpuList(file: string): Field<number[]> {
    return mapField(this.trimmed(file), (text, source) => known(text === '' || text === '(null)' ? [] : parseCpuList(source, text), source));
  }

  /** Where a symbolic link points (e.g. a namespace link "mnt:[4026531832]"). */
  link(file: string): Field<string> {
    try {
      return known(readlinkSync(this.resolve(file)), file);
    } catch (error) {
      return unknown(describeError(file, error));
    }
  }

  /** Entries of a directory, or null when it cannot be listed. */
  list(directory: string): string[] | null {
    try {
      return readdirSync(this.resolve(directory));
    } catch {
      return null;
    }
  }

  exists(file: string): boolean {
    return existsSync(this.resolve(file));
  }
}
