// `rtlat matrix` measures its host step in its own process (measureRun), not in a child `rtlat
// measure`, and the host.json it writes has the shape it had when a child wrote it: the fixture
// matrix-host-before-refactor.json is the host.json of `rtlat matrix` as it was before issue 13 (main
// at a176925, a child `rtlat measure` writing it), made with the options and the stand-in engine below,
// with the optional config fields added to the run file since (mainCpus, alignOffsetNs, staggerNs,
// loopsEndAll) as `rtlat measure` writes them.
// The stand-in container engine (a script that copies a run file where the container's would be)
// makes the matrix quick and needs neither QEMU nor podman.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { usableCpus } from '../src/measurement/measure.js';
import type { RunFile } from '../src/run-file/schema.js';
import { RTLAT_BIN, scratchDir } from './helpers/cli.js';
import { rtlatAsync } from './helpers/guest.js';
import { listProcesses, type ProcessInfo } from './helpers/load-processes.js';
import { schemaProblems } from './helpers/schema.js';

const isRoot = process.getuid?.() === 0;
const fixture = path.resolve(import.meta.dirname, 'fixtures/run-files/matrix-host-before-refactor.json');

/**
 * Every key path of `value` with its type ("threads[].applied.cpus: array"): arrays of objects are
 * entered (all elements' paths together), other arrays are "array". null is a type of its own, and
 * matches any: the schema's nullable fields are null where a run has nothing to say.
 */
function shapeOf(value: unknown, at = '', into = new Map<string, string>()): Map<string, string> {
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  into.set(at, into.get(at) === undefined || into.get(at) === 'null' ? type : into.get(at)!);
  if (Array.isArray(value) && value.some((element) => typeof element === 'object' && element !== null)) {
    for (const element of value) shapeOf(element, `${at}[]`, into);
  } else if (type === 'object') {
    for (const [key, inner] of Object.entries(value as object)) {
      // The fingerprint and the counters are the machine's: their own keys only (their shape is theirs, checked by the schema).
      if (at === '.environment' || at === '.during') into.set(`${at}.${key}`, 'present');
      else shapeOf(inner, `${at}.${key}`, into);
    }
  }
  return into;
}

function shapeDifferences(actual: unknown, expected: unknown): string[] {
  const got = shapeOf(actual);
  const wanted = shapeOf(expected);
  const paths = [...new Set([...got.keys(), ...wanted.keys()])].sort();
  return paths.flatMap((key) => {
    const [a, b] = [got.get(key), wanted.get(key)];
    if (a === b || (a !== undefined && b !== undefined && (a === 'null' || b === 'null'))) return [];
    return [`${key}: ${a ?? 'missing'}, before ${b ?? 'missing'}`];
  });
}

/** The processes below `pid` (children, their children, ...). */
function descendants(pid: number, processes: readonly ProcessInfo[]): ProcessInfo[] {
  const children = processes.filter((candidate) => candidate.ppid === pid);
  return children.flatMap((child) => [child, ...descendants(child.pid, processes)]);
}

describe('the shape comparison', () => {
  it('tells a missing key, a new key and a changed type, and lets null stand for any type', () => {
    expect(shapeDifferences({ a: 1, b: [{ c: 'x' }], d: null }, { a: 1, b: [{ c: 'y' }], d: { e: 1 } })).toEqual(['.d.e: missing, before number']);
    expect(shapeDifferences({ a: '1', f: true }, { a: 1 })).toEqual(['.a: string, before number', '.f: boolean, before missing']);
  });
});

describe.skipIf(!isRoot)('rtlat matrix\'s host step (needs root: run the tests as root, as CI does)', () => {
  it('runs in the matrix\'s own process, and its host.json has the shape of one from before', async () => {
    const dir = scratchDir();
    const engine = path.join(scratchDir(), 'engine');
    // podman's and docker's `run ... --volume DIR:/out ... IMAGE measure ...`: the stand-in writes DIR/container.json.
    writeFileSync(
      engine,
      `#!/bin/sh\nout=''; prev=''\nfor arg; do [ "$prev" = --volume ] && out=\${arg%%:*}; prev=$arg; done\nsleep 0.5\ncp '${fixture}' "$out/container.json"\n`,
    );
    chmodSync(engine, 0o755);
    const cpus = usableCpus().allowed;
    const [hostCpu, loadCpu] = [cpus[0]!, cpus[cpus.length - 1]!];
    const args = ['matrix', '--container', 'stand-in', '--engine', engine, '--loops', '200', '--period', '1ms', '--cpus', `${hostCpu}`];
    args.push('--load', 'syscalls', '--load-cpus', `${loadCpu}`, '--spike', '0', '--histogram', '50', '-o', dir);

    // Watch the matrix's processes while it runs: the engine shows up, a child rtlat never does (a child
    // between its fork and its exec still has the matrix's own command line: not another rtlat).
    const seen: ProcessInfo[] = [];
    let matrixArgv: string[] = [];
    const running = rtlatAsync(args);
    const watch = setInterval(() => {
      const processes = listProcesses();
      const matrix = processes.find((candidate) => candidate.argv[1] === RTLAT_BIN && candidate.argv[2] === 'matrix' && candidate.argv.includes(dir));
      if (!matrix) return;
      matrixArgv = matrix.argv;
      seen.push(...descendants(matrix.pid, processes));
    }, 10);
    const outcome = await running.finally(() => clearInterval(watch));
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(seen.some((child) => child.argv.includes(engine))).toBe(true);
    const forkOfMatrix = (child: ProcessInfo) => JSON.stringify(child.argv) === JSON.stringify(matrixArgv);
    expect(seen.filter((child) => child.argv.includes(RTLAT_BIN) && !forkOfMatrix(child))).toEqual([]);

    const host = JSON.parse(readFileSync(path.join(dir, 'host.json'), 'utf8')) as RunFile;
    const before = JSON.parse(readFileSync(fixture, 'utf8')) as RunFile;
    expect(schemaProblems(host)).toBe('');
    expect(shapeDifferences(host, before)).toEqual([]);
    // What it says of itself, as the child `rtlat measure` said it.
    expect(host.commandLine).toBe(`rtlat measure --period 1ms --loops 200 --cpus ${hostCpu} --histogram 50 --spike 0 --json ${path.join(dir, 'host.json')}`);
    expect(host.threads.map((thread) => [thread.cpu, thread.count])).toEqual([[hostCpu, 200]]);
    expect(host.load!.spec).toBe('syscalls');
    expect(host.load!.cpus).toEqual([loadCpu]);
    expect(host.threads[0]!.microsecondHistogram!.maxUs).toBe(50);
    // The host's output on stdout, as `rtlat measure --histogram 50` prints it; then the container's and the table.
    expect(outcome.stdout).toMatch(/^== host\n(#.*\n)*# Histogram\n\d{6} \d{6}\n/);
    expect(outcome.stdout).toContain('== container\n');
    expect(readFileSync(path.join(dir, 'matrix.txt'), 'utf8')).toMatch(/^worst case/);
  }, 120_000);
});
