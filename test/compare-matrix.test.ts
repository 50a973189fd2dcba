// rtlat compare --matrix: eight runs (host kernel NRT/RT x guest kernel NRT/RT x KVM/Xen) laid out as the
// research's table, each cell the worst case of its run; and where runs without enough information go.
import { describe, expect, it } from 'vitest';
import { type KernelKind, labelRuns } from '../src/run-file/environment.js';
import { buildMatrix, formatMatrix, type Matrix } from '../src/outputs/compare/kernel-table.js';
import type { RunFile } from '../src/run-file/schema.js';
import { rtlat, scratchDir } from './helpers/cli.js';
import { fingerprintFor, inputsOf, type Place, range, runOf, threadOf, writeRuns } from './helpers/compare-runs.js';

interface Case {
  place: Place;
  host: KernelKind;
  guest: KernelKind;
  maxNs: number;
}

// Every run has its own maximum, so a cell shows which run landed in it.
const CASES: Case[] = [];
for (const place of ['kvm', 'xen'] as const) {
  for (const host of ['NRT', 'RT'] as const) {
    for (const guest of ['NRT', 'RT'] as const) CASES.push({ place, host, guest, maxNs: 100_000 + CASES.length * 10_000 });
  }
}

function caseRun({ place, guest, maxNs }: Case): RunFile {
  return runOf([threadOf(0, [...range(5_000, 6_000), maxNs])], { environment: fingerprintFor(place, guest) });
}

const runs: Record<string, RunFile> = Object.fromEntries(CASES.map((item) => [`${item.place}-${item.host}-${item.guest}`, caseRun(item)]));
const hostKernels = CASES.map((item) => item.host);

describe('buildMatrix', () => {
  const matrix: Matrix = buildMatrix(labelRuns(inputsOf(runs)), { hostKernels });

  it('puts the eight runs in the 2x2 kernel pairs x 2 environments', () => {
    expect(matrix.columns).toEqual(['kvm', 'xen pvh']);
    expect(matrix.rows.map((row) => row.kernels)).toEqual(['NRT/NRT', 'NRT/RT', 'RT/NRT', 'RT/RT']);
    for (const item of CASES) {
      const row = matrix.rows.find((candidate) => candidate.kernels === `${item.host}/${item.guest}`)!;
      const cell = row.cells[item.place === 'kvm' ? 0 : 1];
      expect(cell?.maxNs, `${item.place} ${item.host}/${item.guest}`).toBe(item.maxNs);
      expect(cell?.runs).toHaveLength(1);
      expect(cell?.runs[0]).toContain(`${item.place}-${item.host}-${item.guest}.json`);
    }
    expect(matrix.notes).toEqual([]);
  });

  it('prints it as the research lays it out', () => {
    expect(formatMatrix(matrix, 'text')).toBe(
      [
        'worst case (max latency, us) by host/guest kernel (rows) and environment (columns)',
        'host/guest kernel    kvm  xen pvh',
        'NRT/NRT            100.0    140.0',
        'NRT/RT             110.0    150.0',
        'RT/NRT             120.0    160.0',
        'RT/RT              130.0    170.0',
        '',
      ].join('\n'),
    );
    expect(formatMatrix(matrix, 'markdown').split('\n').slice(2, 5)).toEqual(['| host/guest kernel | kvm | xen pvh |', '| --- | ---: | ---: |', '| NRT/NRT | 100.0 | 140.0 |']);
    expect(formatMatrix(matrix, 'csv').split('\n')[4]).toBe('RT/RT,130.0,170.0');
    expect(JSON.parse(formatMatrix(matrix, 'json'))).toEqual(JSON.parse(JSON.stringify(matrix)));
  });

  it('shows the worst of several runs in one cell', () => {
    const worse = caseRun({ ...CASES[0]!, maxNs: 999_000 });
    const inputs = labelRuns(inputsOf({ ...runs, worse }));
    const matrix = buildMatrix(inputs, { hostKernels: [...hostKernels, 'NRT'] });
    expect(matrix.rows[0]!.cells[0]).toMatchObject({ maxNs: 999_000 });
    expect(matrix.rows[0]!.cells[0]!.runs).toHaveLength(2);
    expect(matrix.notes).toEqual(['a cell with several runs shows the worst of them']);
  });

  it('takes columns from labels, a bare-metal run\'s host kernel from itself, and says what it could not place', () => {
    const bare = runOf([threadOf(0, [1_000, 42_000])], { environment: fingerprintFor('bare metal', 'RT') });
    const unknown = runOf([threadOf(0, [1_000, 43_000])]);
    const guest = runOf([threadOf(0, [1_000, 44_000])], { environment: fingerprintFor('kvm', 'NRT') });
    const inputs = labelRuns(inputsOf({ bare, unknown, guest }), ['machine A', 'machine A', 'machine A']);
    // The host kernel given for the bare-metal run is not used: its own kernel was measured.
    const matrix = buildMatrix(inputs, { columns: inputs.map(() => 'machine A'), hostKernels: ['NRT', undefined, undefined] });
    expect(matrix.columns).toEqual(['machine A']);
    expect(matrix.rows.map((row) => [row.kernels, row.cells[0]?.maxNs ?? null])).toEqual([
      ['NRT/NRT', null], ['NRT/RT', null], ['RT/NRT', null], ['RT/RT', null], ['RT/-', 42_000], ['?/NRT', 44_000], ['?/?', 43_000],
    ]);
    expect(matrix.notes).toEqual([
      'host kernel unknown for machine A (guest.json): give --host-kernel rt|nrt (once, or once per file)',
      'no environment fingerprint in machine A (unknown.json): its kernel is unknown',
    ]);
  });

  it('reads a guest\'s host kernel from the run\'s hostEnvironment when it has one', () => {
    const guest = { ...runs['kvm-NRT-RT']!, hostEnvironment: fingerprintFor('bare metal', 'RT') };
    const matrix = buildMatrix(labelRuns(inputsOf({ guest })));
    expect(matrix.rows.find((row) => row.kernels === 'RT/RT')!.cells[0]).not.toBeNull();
  });
});

describe('rtlat compare --matrix', () => {
  const files = writeRuns(scratchDir(), runs);

  it('takes --host-kernel once per file', () => {
    const outcome = rtlat(['compare', '--matrix', ...files, ...hostKernels.flatMap((kind) => ['--host-kernel', kind.toLowerCase()])]);
    expect(outcome.status).toBe(0);
    expect(outcome.stderr).toBe('');
    expect(outcome.stdout).toBe(formatMatrix(buildMatrix(labelRuns(inputsOf(runs)), { hostKernels }), 'text'));
  });

  it('takes --host-kernel once for all files', () => {
    const outcome = rtlat(['compare', '--matrix', '--format', 'json', '--host-kernel', 'rt', ...files]);
    expect(outcome.status).toBe(0);
    const matrix = JSON.parse(outcome.stdout) as Matrix;
    expect(matrix.rows.map((row) => row.cells.filter((cell) => cell !== null).length)).toEqual([0, 0, 2, 2]);
  });

  it('refuses a number of --host-kernel that is neither one nor one per file', () => {
    const outcome = rtlat(['compare', '--matrix', ...files, '--host-kernel', 'rt', '--host-kernel', 'nrt']);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toBe('rtlat compare: --host-kernel: got 2 for 8 files; give one for all, or one per file\n');
  });
});

describe('buildMatrix over Xen runs with and without Dom0 load, from a lab', () => {
  const dom0 = fingerprintFor('bare metal', 'NRT');
  dom0.virtualization = { ...fingerprintFor('xen', 'NRT').virtualization, xenDomain: { value: 'dom0', source: 'test' } };
  dom0.kernel.commandLine = { value: 'console=hvc0 rtlat.lab=xen/tcg', source: 'test' };
  const load = { spec: 'memory', cpus: [0], generators: [{ kind: 'memory', cpu: 0, operations: 10, opsPerSecond: 5 }] };
  const domU = (maxNs: number, withLoad: boolean, periodNs = 200_000) =>
    runOf([threadOf(0, [...range(5_000, 6_000), maxNs], { periodNs })], {
      environment: fingerprintFor('xen', 'NRT'),
      hostEnvironment: dom0,
      load: withLoad ? load : null,
      config: { ...runOf([threadOf(0, [1_000])]).config, periodNs },
    });

  it('gives each environment a column per stress condition, puts Dom0 where a host goes, and marks what a lab made', () => {
    const runs = { quiet: domU(100_000, false), loaded: domU(300_000, true), dom0: runOf([threadOf(0, [1_000, 50_000])], { environment: dom0 }) };
    const matrix = buildMatrix(labelRuns(inputsOf(runs)));
    expect(matrix.columns).toEqual(['xen pvh, no stress*', 'xen pvh, stress*', 'xen dom0, no stress*']);
    const cell = (kernels: string, column: number) => matrix.rows.find((row) => row.kernels === kernels)!.cells[column]?.maxNs ?? null;
    expect([cell('NRT/NRT', 0), cell('NRT/NRT', 1), cell('NRT/-', 2)]).toEqual([100_000, 300_000, 50_000]);
    expect(matrix.notes).toEqual([
      '* EMULATED: measured in an rtlat lab host (lab xen/tcg > domU pvh; lab xen/tcg > dom0): the latencies are the emulation\'s, not real hardware\'s',
      'stress: the load on the host (Xen: in Dom0) while measuring: memory',
    ]);
    // Said before the numbers in text, after them as notes otherwise.
    const text = formatMatrix(matrix, 'text').split('\n');
    expect(text[1]).toMatch(/^\* EMULATED: /);
    expect(text[2]).toMatch(/^host\/guest kernel\s+xen pvh, no stress\*/);
  });

  it('gives a column per period too where the periods differ', () => {
    const matrix = buildMatrix(labelRuns(inputsOf({ fast: domU(100_000, false, 50_000), slow: domU(100_000, false, 1_000_000) })));
    expect(matrix.columns).toEqual(['xen pvh, 50us*', 'xen pvh, 1ms*']);
  });
});
