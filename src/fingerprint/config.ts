// The kernel's build configuration: /proc/config.gz when the kernel carries it (CONFIG_IKCONFIG_PROC),
// else the distribution's /boot/config-<release>. Several fields (preemption, HZ, NO_HZ) come from it.
import { gunzipSync } from 'node:zlib';
import { type Field, firstKnown, isKnown, known, mapField, type SystemFiles, unknown } from './field.js';

export const PROC_CONFIG_FILE = '/proc/config.gz';

export interface KernelConfig {
  /** The file it was read from. */
  file: string;
  /** CONFIG_X -> "y", "m", a number or a quoted string; options "is not set" are absent. */
  options: Map<string, string>;
}

export function parseKernelConfig(text: string, file: string): KernelConfig {
  const options = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^(CONFIG_\w+)=(.*)$/.exec(line.trim());
    if (match) options.set(match[1]!, match[2]!);
  }
  return { file, options };
}

export function readKernelConfig(files: SystemFiles, release: Field<string>): Field<KernelConfig> {
  const fromProc = mapField(files.bytes(PROC_CONFIG_FILE), (gzipped, source) => known(parseKernelConfig(gunzipSync(gzipped).toString('utf8'), source), source));
  const fromBoot: Field<KernelConfig> = isKnown(release)
    ? mapField(files.text(`/boot/config-${release.value}`), (text, source) => known(parseKernelConfig(text, source), source))
    : unknown('/boot/config-<release> cannot be named: the kernel release is unknown');
  return firstKnown(fromProc, fromBoot);
}

/** One option as a field whose source names the file and the line, e.g. "/proc/config.gz: CONFIG_HZ=250". */
export function configOption(config: Field<KernelConfig>, name: string): Field<string> {
  return mapField(config, ({ file, options }) => {
    const value = options.get(name);
    return value === undefined ? unknown(`${file}: ${name} is not set`) : known(value, `${file}: ${name}=${value}`);
  });
}

export function configEnabled(config: KernelConfig, name: string): boolean {
  const value = config.options.get(name);
  return value === 'y' || value === 'm';
}
