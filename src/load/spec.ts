// The load spec of --load: which generators to run while measuring, e.g. "syscalls,ipc" or
// "timers,stress-ng:--hdd 1 --switch 2".
import { OptionError } from '../errors.js';

/** Generators rtlat runs itself (native/load/), one per load CPU each. */
export const NATIVE_LOAD_KINDS = ['syscalls', 'ipc', 'timers', 'io', 'memory'] as const;
export type NativeLoadKind = (typeof NATIVE_LOAD_KINDS)[number];

export type LoadGeneratorSpec = { kind: NativeLoadKind } | { kind: 'stress-ng'; args: string[] };

export interface LoadSpec {
  /** As given, for the run file. */
  text: string;
  generators: LoadGeneratorSpec[];
}

const STRESS_NG_PREFIX = 'stress-ng:';
const ACCEPTED =
  `KIND[,KIND...] of ${NATIVE_LOAD_KINDS.join(', ')}, each once, optionally ending with stress-ng:ARGS ` +
  `(e.g. syscalls,ipc or io,stress-ng:--switch 2)`;

/**
 * Parses a load spec. `stress-ng:` takes everything after it, commas included, as stress-ng's
 * arguments (split at spaces, no quoting), so it comes last.
 */
export function parseLoadSpec(text: string): LoadSpec {
  const trimmed = text.trim();
  const stressAt = trimmed.indexOf(STRESS_NG_PREFIX);
  const nativePart = stressAt < 0 ? trimmed : trimmed.slice(0, stressAt);
  const generators: LoadGeneratorSpec[] = [];
  const names = nativePart.split(',').map((name) => name.trim());
  // "stress-ng:..." alone or after a comma leaves one empty name at the end of the native part.
  if (stressAt >= 0) {
    if (names.pop() !== '') throw new OptionError('load', text, ACCEPTED);
  }
  for (const name of names) {
    if (!(NATIVE_LOAD_KINDS as readonly string[]).includes(name)) throw new OptionError('load', text, ACCEPTED);
    if (generators.some((generator) => generator.kind === name)) throw new OptionError('load', text, ACCEPTED);
    generators.push({ kind: name as NativeLoadKind });
  }
  if (stressAt >= 0) {
    const args = trimmed.slice(stressAt + STRESS_NG_PREFIX.length).split(/\s+/).filter((arg) => arg !== '');
    if (args.length === 0) throw new OptionError('load', text, `stressors after stress-ng:, e.g. stress-ng:--switch 2`);
    generators.push({ kind: 'stress-ng', args });
  }
  return { text: trimmed, generators };
}
