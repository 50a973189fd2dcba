// What `rtlat measure` prints on stdout for a run (and `rtlat matrix` for its host step): rtlat's
// table, or cyclictest's T: lines, or cyclictest's -h histogram (which, as with cyclictest -q -h,
// replaces the T: lines; rtlat's table still follows it).
import { formatLoadWork } from '../load/index.js';
import type { RunFile } from '../run-file/schema.js';
import { formatCpuList } from '../units.js';
import { formatCyclictestHistogram, formatCyclictestSummary } from './cyclictest/text.js';
import type { CyclictestVersion } from '../cyclictest/version.js';
import { formatExplain } from './explain.js';
import { formatSummaryTable } from './table.js';

export interface MeasureStdoutOptions {
  format: 'table' | 'cyclictest';
  /** Print cyclictest's -h histogram (the run kept one: histogramMaxUs). */
  histogram: boolean;
  /** The dialect of cyclictest's histogram (default: the newest). */
  cyclictestVersion?: CyclictestVersion;
}

export function formatMeasureStdout(run: RunFile, options: MeasureStdoutOptions): string {
  const stdout: string[] = [];
  if (options.histogram) stdout.push(formatCyclictestHistogram(run, options.cyclictestVersion ? { version: options.cyclictestVersion } : {}));
  else if (options.format === 'cyclictest') stdout.push(formatCyclictestSummary(run));
  if (options.format === 'table') stdout.push(formatSummaryTable(run));
  if (options.format === 'table' && run.load) stdout.push(`load ${run.load.spec} on CPUs ${formatCpuList(run.load.cpus)}: ${formatLoadWork(run.load)}\n`);
  if (options.format === 'table' && run.explain) stdout.push(formatExplain(run.explain));
  return stdout.join('');
}
