// Reads Prometheus's text exposition format (version 0.0.4) back into samples, for tests of /metrics.
export interface ExposedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  /** # TYPE lines: metric name -> counter, gauge, histogram, ... */
  types: Map<string, string>;
  help: Map<string, string>;
  samples: ExposedSample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** Throws on any line that is neither a comment, blank, nor a well-formed sample. */
export function parseExposition(text: string): Exposition {
  const exposition: Exposition = { types: new Map(), help: new Map(), samples: [] };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'TYPE' ? exposition.types : exposition.help).set(meta[2]!, meta[3]!);
      continue;
    }
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (sample[2] ?? '').matchAll(LABEL)) labels[name!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = parseValue(sample[3]!);
    if (Number.isNaN(value)) throw new Error(`not a number: ${line}`);
    exposition.samples.push({ name: sample[1]!, labels, value });
  }
  return exposition;
}

/** The samples of one metric name, optionally only those whose labels include `labels`. */
export function samplesOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): ExposedSample[] {
  return exposition.samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
}
