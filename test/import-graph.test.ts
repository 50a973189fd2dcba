// The import graph of src/: data flows one way (engine -> run file -> measurement -> outputs, the
// commands on top: docs/architecture.md), so no module imports one of a layer above its own, and a
// command reaches the engine, the load, the fingerprint and the targets only through the measurement
// layer or their public entry points. Read from the sources, type-only imports included.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');

/** Bottom to top; a module may import its own layer and those below. Paths relative to src/, folders end in '/'. */
const LAYERS: readonly (readonly string[])[] = [
  // Shared basics; atomic-file.ts is the one way to write a file whole, outputs' and the guest image cache's.
  ['errors.ts', 'units.ts', 'version.ts', 'outputs/atomic-file.ts'],
  // The run file's own types and its one combiner: what every layer speaks, so they sit under the engine that fills them.
  ['run-file/schema.ts', 'run-file/summary.ts'],
  ['engine/', 'fingerprint/', 'trace/'],
  ['run-file/'],
  // cyclictest/: cyclictest's command line, which the drop-in runs and the importer reads back.
  ['load/', 'import/', 'targets/', 'cyclictest/'],
  ['measurement/'],
  ['outputs/'],
  ['service/'],
  ['cli/'],
  ['index.ts', 'prometheus.ts'],
];

/** Imports allowed against the layers, each with its reason. */
const EXCEPTIONS: readonly { from: string; to: string; why: string }[] = [
  { from: 'run-file/schema.ts', to: 'fingerprint/index.ts', why: 'a run file holds the fingerprint as the fingerprint defines it (type-only)' },
];

/** What src/cli/ may import besides cli/ itself. */
const CLI_MAY_IMPORT: readonly string[] = [
  'errors.ts', 'units.ts', 'version.ts', 'measurement/', 'outputs/', 'run-file/', 'service/',
  // Public entry points of the parts below the measurement layer.
  'load/index.ts', 'fingerprint/index.ts', 'targets/index.ts', 'import/cyclictest.ts', 'cyclictest/index.ts',
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path.relative(SRC, full)] : [];
  });
}

/** The src/-relative files `file` imports (static, dynamic, re-exports, import types). */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(SRC, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)].map((match) => match[1]!);
  return specifiers.map((specifier) => path.relative(SRC, path.resolve(path.dirname(path.join(SRC, file)), specifier)).replace(/\.js$/, '.ts'));
}

const matches = (file: string, pattern: string) => (pattern.endsWith('/') ? file.startsWith(pattern) : file === pattern);

/** The layer of a file: the most specific pattern wins (run-file/schema.ts before run-file/). */
function layerOf(file: string): number {
  let best = { layer: -1, length: -1 };
  LAYERS.forEach((patterns, layer) => {
    for (const pattern of patterns) if (matches(file, pattern) && pattern.length > best.length) best = { layer, length: pattern.length };
  });
  return best.layer;
}

const files = sources(SRC);
const edges = files.flatMap((from) => importsOf(from).map((to) => ({ from, to })));

describe('the import graph of src/', () => {
  it('reads the imports it checks', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(edges).toContainEqual({ from: 'cli/measure.ts', to: 'measurement/measure.ts' });
    expect(edges).toContainEqual({ from: 'engine/probe.ts', to: 'engine/native.ts' });
    // Type-only and re-exports count too.
    expect(edges).toContainEqual({ from: 'engine/histogram.ts', to: 'run-file/schema.ts' });
    expect(edges).toContainEqual({ from: 'index.ts', to: 'measurement/measure.ts' });
  });

  it('every module has a layer, and every import names a module of src/', () => {
    expect(files.filter((file) => layerOf(file) < 0)).toEqual([]);
    expect(edges.filter(({ to }) => !files.includes(to))).toEqual([]);
  });

  it('no module imports one of a layer above its own', () => {
    const upward = edges.filter(({ from, to }) => layerOf(to) > layerOf(from) && !EXCEPTIONS.some((exception) => exception.from === from && exception.to === to));
    expect(upward.map(({ from, to }) => `${from} -> ${to}`)).toEqual([]);
  });

  it('the commands import the measurement layer, the outputs, the run file and public entry points only', () => {
    const reaching = edges.filter(({ from, to }) => from.startsWith('cli/') && !to.startsWith('cli/') && !CLI_MAY_IMPORT.some((pattern) => matches(to, pattern)));
    expect(reaching.map(({ from, to }) => `${from} -> ${to}`)).toEqual([]);
  });

  it('nothing outside the engine loads the addon', () => {
    expect(edges.filter(({ from, to }) => to === 'engine/native.ts' && !from.startsWith('engine/') && !from.startsWith('fingerprint/')).map(({ from }) => from)).toEqual([]);
  });
});
