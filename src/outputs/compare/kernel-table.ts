// The research's table: the worst case (max latency) of each environment (columns: KVM, Xen PV, PVH,
// HVM, machine...) for each pairing of host and guest kernel (rows: NRT/NRT, NRT/RT, RT/NRT, RT/RT). A
// guest's own kernel comes from its fingerprint; its host's (Dom0's, for Xen) from --host-kernel or the
// run's hostEnvironment. Where the runs differ in the host's load ("kernel stress") or in the period,
// each environment gets a column per condition: "xen pv, stress" beside "xen pv, no stress". A column
// of runs made in an emulated lab host (rtlat lab) is marked with * and a note says so.
import { microseconds } from '../table.js';
import { fingerprintOf, hostKernelKind, kernelKind, type KernelKind, type LabeledRun, placeOf } from '../../run-file/environment.js';
import { labOf } from '../../run-file/lab.js';
import { shortName } from '../../run-file/read.js';
import { formatDuration } from '../../units.js';
import { renderTable } from '../grid.js';
import type { OutputFormat } from './comparison-table.js';

/** How the note on runs made in an rtlat lab host begins. */
const EMULATED_NOTE = '* EMULATED:';

/** The four rows the table always has, in the research's order. */
export const KERNEL_PAIRS = ['NRT/NRT', 'NRT/RT', 'RT/NRT', 'RT/RT'] as const;

export interface MatrixCell {
  /** The worst case: the largest max of the runs in the cell. */
  maxNs: number;
  /** Labels of the runs in the cell. */
  runs: string[];
}

export interface MatrixRow {
  /** "host/guest": NRT/RT is a PREEMPT_RT guest on a non-RT host; "RT/-" is a bare-metal RT kernel; "?" unknown. */
  kernels: string;
  /** One per column; null when no run was measured there. */
  cells: (MatrixCell | null)[];
}

export interface Matrix {
  columns: string[];
  rows: MatrixRow[];
  /** Why some runs are in rows with "?", and how to place them. */
  notes: string[];
}

export interface MatrixOptions {
  /** Per run: the column to put it in (e.g. the --label given); default: where it ran ("kvm", "xen pvh", "bare metal"). */
  columns?: readonly (string | undefined)[];
  /** Per run: its host's kernel, which a guest cannot see for itself (ignored for bare-metal runs: theirs is measured). */
  hostKernels?: readonly (KernelKind | undefined)[];
}

interface Placement {
  column: string;
  host: KernelKind | null;
  /** '-' for a run on bare metal or in a container: no guest kernel between it and the host's. */
  guest: KernelKind | null | '-';
}

function place(entry: LabeledRun, column: string | undefined, hostOverride: KernelKind | undefined): Placement {
  const fingerprint = fingerprintOf(entry.run.environment);
  const own = kernelKind(fingerprint);
  const where = column ?? (fingerprint ? placeOf(fingerprint) : shortName(entry.file));
  if (fingerprint === null) return { column: where, host: hostOverride ?? null, guest: null };
  // On bare metal (or in a container there) the measured kernel is the host's: nothing to override. Xen's
  // Dom0 runs on Xen, but its kernel is the one its domUs' rows call the host's.
  if (!fingerprint.virtualization.vm || fingerprint.virtualization.xenDomain?.value === 'dom0') return { column: where, host: own, guest: '-' };
  return { column: where, host: hostOverride ?? hostKernelKind(entry.run), guest: own };
}

/** What sets runs of one environment apart: the host's load, and the period, where the runs differ in them. */
function conditionsOf(runs: readonly LabeledRun[]): ((entry: LabeledRun) => string)[] {
  const loads = new Set(runs.map(({ run }) => run.load?.spec ?? null));
  const periods = new Set(runs.map(({ run }) => run.config.periodNs));
  const conditions: ((entry: LabeledRun) => string)[] = [];
  if (periods.size > 1) conditions.push(({ run }) => formatDuration(run.config.periodNs));
  if (loads.size > 1) {
    const specs = [...loads].filter((spec) => spec !== null);
    conditions.push(({ run }) => (run.load ? (specs.length > 1 ? `stress ${run.load.spec}` : 'stress') : 'no stress'));
  }
  return conditions;
}

function rowOrder(kernels: string): number {
  const pair = (KERNEL_PAIRS as readonly string[]).indexOf(kernels);
  if (pair >= 0) return pair;
  return 10 + kernels.split('?').length;
}

export function buildMatrix(runs: readonly LabeledRun[], options: MatrixOptions = {}): Matrix {
  const conditions = conditionsOf(runs);
  const placed = runs.map((entry, index) => {
    const placement = place(entry, options.columns?.[index], options.hostKernels?.[index]);
    const lab = labOf(entry.run);
    const column = `${[placement.column, ...conditions.map((condition) => condition(entry))].join(', ')}${lab ? '*' : ''}`;
    return { entry, ...placement, column, lab, kernels: `${placement.host ?? '?'}/${placement.guest ?? '?'}` };
  });
  const columns = [...new Set(placed.map(({ column }) => column))];
  const rows = [...new Set<string>([...KERNEL_PAIRS, ...placed.map(({ kernels }) => kernels)])]
    .sort((a, b) => rowOrder(a) - rowOrder(b) || a.localeCompare(b))
    .map((kernels) => ({
      kernels,
      cells: columns.map((column) => {
        const inCell = placed.filter((run) => run.column === column && run.kernels === kernels);
        if (inCell.length === 0) return null;
        return { maxNs: Math.max(...inCell.map(({ entry }) => entry.run.all.maxNs)), runs: inCell.map(({ entry }) => entry.label) };
      }),
    }));
  const notes: string[] = [];
  const nestings = [...new Set(placed.map(({ lab }) => lab?.nesting).filter((nesting): nesting is string => nesting !== undefined))];
  if (nestings.length > 0) notes.push(`${EMULATED_NOTE} measured in an rtlat lab host (${nestings.join('; ')}): the latencies are the emulation's, not real hardware's`);
  const loads = [...new Set(placed.map(({ entry }) => entry.run.load?.spec).filter((spec): spec is string => spec !== undefined))];
  if (placed.some(({ entry }) => !entry.run.load) && loads.length > 0) notes.push(`stress: the load on the host (Xen: in Dom0) while measuring: ${loads.join('; ')}`);
  const hostUnknown = placed.filter(({ host, guest }) => host === null && guest !== null).map(({ entry }) => entry.label);
  const noFingerprint = placed.filter(({ guest }) => guest === null).map(({ entry }) => entry.label);
  if (hostUnknown.length > 0) notes.push(`host kernel unknown for ${hostUnknown.join(', ')}: give --host-kernel rt|nrt (once, or once per file)`);
  if (noFingerprint.length > 0) notes.push(`no environment fingerprint in ${noFingerprint.join(', ')}: its kernel is unknown`);
  if (rows.some((row) => row.cells.some((cell) => cell !== null && cell.runs.length > 1))) notes.push('a cell with several runs shows the worst of them');
  return { columns, rows, notes };
}

export function formatMatrix(matrix: Matrix, format: OutputFormat): string {
  if (format === 'json') return `${JSON.stringify(matrix, null, 2)}\n`;
  const header = ['host/guest kernel', ...matrix.columns];
  const rows = matrix.rows.map((row) => [row.kernels, ...row.cells.map((cell) => (cell === null ? '-' : microseconds(cell.maxNs)))]);
  if (format === 'csv') return renderTable(header, rows, 'csv');
  const intro = 'worst case (max latency, us) by host/guest kernel (rows) and environment (columns)';
  const table = renderTable(header, rows, format);
  // That the numbers are an emulation's is said before them, the rest after.
  const emulated = matrix.notes.filter((note) => note.startsWith(EMULATED_NOTE));
  const notes = matrix.notes.filter((note) => !note.startsWith(EMULATED_NOTE));
  if (format === 'markdown') {
    const quote = (lines: string[]) => (lines.length ? `${lines.map((note) => `> ${note}`).join('\n>\n')}\n\n` : '');
    return `${intro}\n\n${quote(emulated)}${table}${notes.length ? `\n${quote(notes).trimEnd()}\n` : ''}`;
  }
  return [`${intro}\n`, ...emulated.map((note) => `${note}\n`), table, ...notes.map((note) => `note: ${note}\n`)].join('');
}
