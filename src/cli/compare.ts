// `rtlat compare A.json B.json ...`: runs side by side with their ratios to the first, or (--matrix)
// the worst case of each environment for each host/guest kernel pair.
import { Command, Option } from 'commander';
import { compareRuns } from '../outputs/compare/compare.js';
import type { KernelKind } from '../run-file/environment.js';
import { formatComparison, OUTPUT_FORMATS, type OutputFormat } from '../outputs/compare/comparison-table.js';
import { buildMatrix, formatMatrix } from '../outputs/compare/kernel-table.js';
import { OptionError } from '../errors.js';
import { reportError, UsageError } from './exit.js';
import { collect } from './options.js';
import { readLabeledRuns } from './run-files.js';
import { writeStdout } from './stdout.js';

interface CompareFlags {
  label?: string[];
  format: OutputFormat;
  matrix?: boolean;
  hostKernel?: string[];
}

function parseHostKernels(values: readonly string[], files: number): (KernelKind | undefined)[] | undefined {
  if (values.length === 0) return undefined;
  if (values.length !== 1 && values.length !== files) {
    throw new UsageError(`--host-kernel: got ${values.length} for ${files} files; give one for all, or one per file`);
  }
  const kinds = values.map((value) => {
    const kind = value.toUpperCase();
    if (kind !== 'RT' && kind !== 'NRT') throw new OptionError('host-kernel', value, 'rt (PREEMPT_RT) or nrt (any other kernel)');
    return kind as KernelKind;
  });
  return Array.from({ length: files }, (_, index) => kinds[values.length === 1 ? 0 : index]);
}

export function compareCommand(): Command {
  return new Command('compare')
    .description('Compare run files side by side (ratios to the first), or as a host/guest kernel matrix.')
    .argument('<files...>', 'run files (rtlat measure --json, or rtlat import cyclictest); the first is the baseline')
    .option('--label <label>', 'name a run, one per file in order (default: its environment, e.g. "guest kvm / PREEMPT_RT")', collect)
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('text'))
    .option('--matrix', 'worst case (max) per host/guest kernel pair (rows) and environment (columns; --label sets them)')
    .option('--host-kernel <kind>', 'with --matrix: the host kernel of guest runs, rt or nrt; once for all, or once per file', collect)
    .action(async (files: string[], flags: CompareFlags) => {
      try {
        const hostKernels = parseHostKernels(flags.hostKernel ?? [], files.length);
        if (hostKernels && !flags.matrix) throw new UsageError('--host-kernel places runs in the --matrix table; give --matrix too');
        const runs = readLabeledRuns(files, flags.label ?? []);
        if (flags.matrix) {
          // Given labels name the columns: that is how runs from one machine or setting are grouped.
          const matrix = buildMatrix(runs, { columns: flags.label, hostKernels });
          await writeStdout(formatMatrix(matrix, flags.format));
          if (flags.format === 'csv') for (const note of matrix.notes) process.stderr.write(`rtlat compare: note: ${note}\n`);
          return;
        }
        const comparison = compareRuns(runs);
        await writeStdout(formatComparison(comparison, flags.format));
        // CSV stays parseable: its warnings go to stderr.
        if (flags.format === 'csv') for (const warning of comparison.warnings) process.stderr.write(`rtlat compare: warning: ${warning}\n`);
      } catch (error) {
        process.exitCode = reportError('compare', error);
      }
    });
}
