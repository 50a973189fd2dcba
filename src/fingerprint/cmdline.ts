// The kernel command line, parsed the way the kernel does: words split on spaces, double quotes keep
// spaces inside a value, and everything after a lone "--" belongs to init, not to the kernel.
import { type Field, known, mapField, type SystemFiles, unknown } from './field.js';

export const CMDLINE_FILE = '/proc/cmdline';

export interface KernelCommandLine {
  text: string;
  /** Parameter -> value (null for a bare flag such as "quiet"); the last occurrence wins, as for most parameters. */
  parameters: Map<string, string | null>;
}

export function parseKernelCommandLine(text: string): KernelCommandLine {
  const parameters = new Map<string, string | null>();
  const words = text.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
  for (const word of words) {
    if (word === '--') break;
    const unquoted = word.replace(/"/g, '');
    const equals = unquoted.indexOf('=');
    if (equals < 0) parameters.set(unquoted, null);
    else parameters.set(unquoted.slice(0, equals), unquoted.slice(equals + 1));
  }
  return { text, parameters };
}

export function readKernelCommandLine(files: SystemFiles): Field<KernelCommandLine> {
  return mapField(files.trimmed(CMDLINE_FILE), (text, source) => known(parseKernelCommandLine(text), source));
}

/** One parameter's value: '' for a bare flag; null with a reason when the parameter is not given. */
export function commandLineParameter(cmdline: Field<KernelCommandLine>, name: string): Field<string> {
  return mapField(cmdline, (line, source) => {
    if (!line.parameters.has(name)) return unknown(`${name}= is not on the kernel command line (${source})`);
    const value = line.parameters.get(name) ?? null;
    return known(value ?? '', value === null ? `${source}: ${name}` : `${source}: ${name}=${value}`);
  });
}

/**
 * A CPU list in the kernel's boot-parameter grammar: "0-3,6", strided groups "0-7:2/4", "all", and
 * "N" for the last CPU. isolcpus= may lead with flags ("nohz,domain,2-3"); they are skipped.
 */
export function parseKernelCpuList(text: string, lastCpu: number | null): number[] {
  const cpus = new Set<number>();
  for (const part of text.split(',').map((piece) => piece.trim()).filter((piece) => piece !== '')) {
    if (part === 'all') {
      if (lastCpu === null) throw new Error('"all" needs the number of CPUs');
      for (let cpu = 0; cpu <= lastCpu; cpu++) cpus.add(cpu);
      continue;
    }
    if (/^[a-z_]+$/.test(part) && part !== 'N') continue;
    const match = /^(\d+|N)(?:-(\d+|N)(?::(\d+)\/(\d+))?)?$/.exec(part);
    if (!match) throw new Error(`${JSON.stringify(part)} is not a CPU, range or group`);
    const number = (token: string): number => {
      if (token !== 'N') return Number(token);
      if (lastCpu === null) throw new Error('"N" needs the number of CPUs');
      return lastCpu;
    };
    const first = number(match[1]!);
    const last = match[2] === undefined ? first : number(match[2]);
    const used = match[3] === undefined ? 1 : Number(match[3]);
    const group = match[4] === undefined ? 1 : Number(match[4]);
    if (last < first || used < 1 || group < used) throw new Error(`${JSON.stringify(part)} is not a valid range`);
    for (let cpu = first; cpu <= last; cpu++) if ((cpu - first) % group < used) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** memparse(): a number with an optional K/M/G/T/P/E suffix (powers of 1024), as early parameters take sizes. */
export function parseKernelSize(text: string): number | null {
  const match = /^(0x[0-9a-f]+|\d+)([kmgtpe]?)$/i.exec(text.trim());
  if (!match) return null;
  const exponent = ' kmgtpe'.indexOf((match[2] || ' ').toLowerCase());
  return Number(match[1]) * 1024 ** exponent;
}
