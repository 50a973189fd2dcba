// The research's table: the worst case (max latency) of each environment (columns: KVM, Xen, machine...)
// for each pairing of host and guest kernel (rows: NRT/NRT, NRT/RT, RT/NRT, RT/RT). A guest's own
// kernel comes from its fingerprint; its host's from --host-kernel or the run's hostEnvironment.
import { microseconds } from '../table.js';
import { fingerprintOf, hostKernelKind, kernelKind, type KernelKind, type LabeledRun, placeOf } from '../../run-file/environment.js';
import { shortName } from '../../run-file/read.js';
import { renderTable } from '../grid.js';
import type { OutputFormat } from './comparison-table.js';

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
  // On bare metal (or in a container there) the measured kernel is the host's: nothing to override.
  if (!fingerprint.virtualization.vm) return { column: where, host: own, guest: '-' };
  return { column: where, host: hostOverride ?? hostKernelKind(entry.run), guest: own };
}

function rowOrder(kernels: string): number {
  const pair = (KERNEL_PAIRS as readonly string[]).indexOf(kernels);
  if (pair >= 0) return pair;
  return 10 + kernels.split('?').length;
}

export function buildMatrix(runs: readonly LabeledRun[], options: MatrixOptions = {}): Matrix {
  const placed = runs.map((entry, index) => {
    const placement = place(entry, options.columns?.[index], options.hostKernels?.[index]);
    return { entry, ...placement, kernels: `${placement.host ?? '?'}/${placement.guest ?? '?'}` };
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
  if (format === 'markdown') return `${intro}\n\n${table}${matrix.notes.length ? `\n${matrix.notes.map((note) => `> ${note}`).join('\n>\n')}\n` : ''}`;
  return [`${intro}\n`, table, ...matrix.notes.map((note) => `note: ${note}\n`)].join('');
}
