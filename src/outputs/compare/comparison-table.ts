// A comparison as text, markdown, CSV or JSON. Latencies in us; a percentile the run cannot support is
// shown as the sample count it would need, never as a confident number.
import { AT_LEAST_NOTE, microseconds, percentileCell } from '../table.js';
import { minSamplesFor } from '../../engine/histogram.js';
import type { ComparedRun, Comparison, MetricValue } from './compare.js';
import { METRICS } from './compare.js';
import { renderTable, type TableFormat } from '../grid.js';

export type OutputFormat = TableFormat | 'json';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['text', 'markdown', 'csv', 'json'];

/** "2.31x", "12.5x", "140x": three significant digits are plenty for a ratio of latencies. */
export function formatRatio(ratio: number): string {
  return `${ratio >= 100 ? ratio.toFixed(0) : ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}x`;
}

/** A latency in us, a percentile's '(n<N)' when too few samples support it or '>=N' when it is a bound, '-' when there is none. */
export function metricCell(value: MetricValue, percentile: number | null): string {
  if (value.valueNs === null) return '-';
  return percentile === null ? microseconds(value.valueNs) : percentileCell({ percentile, valueNs: value.valueNs, reliable: value.reliable, ...(value.atLeast && { atLeast: value.atLeast }) });
}

function countCells(run: ComparedRun): string[] {
  return [`${run.count}`, run.overruns === null ? '-' : `${run.overruns}`];
}

const HEADER = ['run', 'count', ...METRICS.map(({ name }) => name), 'overruns'];

/** Notes for the marks the table uses, only when it uses them. */
export function footnotes(runs: readonly ComparedRun[]): string[] {
  const values = runs.flatMap((run) => METRICS.map(({ name }) => run.metrics[name]));
  const notes: string[] = [];
  if (values.some((value) => value.valueNs !== null && !value.reliable && !value.atLeast)) {
    notes.push(`(n<N): too few samples for that percentile to mean anything; it needs N (p99.99 needs ${minSamplesFor(99.99)}).`);
  }
  if (values.some((value) => value.atLeast)) notes.push(AT_LEAST_NOTE);
  if (values.some((value) => value.valueNs === null)) notes.push('-: the run kept no histogram (e.g. cyclictest without -h), so it has no percentiles.');
  return notes;
}

function textRows(comparison: Comparison): string[][] {
  const rows: string[][] = [];
  comparison.runs.forEach((run, index) => {
    const [count, overruns] = countCells(run);
    rows.push([run.label, count!, ...METRICS.map(({ name, percentile }) => metricCell(run.metrics[name], percentile)), overruns!]);
    if (index > 0) rows.push(['  vs baseline', '', ...METRICS.map(({ name }) => ratioCell(run.metrics[name])), '']);
  });
  return rows;
}

function ratioCell(value: MetricValue): string {
  return value.ratio === null ? '-' : formatRatio(value.ratio);
}

function markdownRows(comparison: Comparison): string[][] {
  return comparison.runs.map((run, index) => {
    const [count, overruns] = countCells(run);
    const cells = METRICS.map(({ name, percentile }) => {
      const value = run.metrics[name];
      const shown = metricCell(value, percentile);
      return index > 0 && value.ratio !== null ? `${shown} (${formatRatio(value.ratio)})` : shown;
    });
    return [index === 0 ? `**${run.label}** (baseline)` : run.label, count!, ...cells, overruns!];
  });
}

/**
 * One row per run. The numeric columns hold numbers or nothing: a percentile too few samples support,
 * or one that is only a bound, is left empty there (not a number to plot by mistake) and says why in
 * the flags column, as "p99.9:(n<10k)" or "p99.99:>=60.0", separated by ";".
 */
function csvRows(comparison: Comparison): string[][] {
  return comparison.runs.map((run) => [
    run.label,
    run.file,
    `${run.tool.name} ${run.tool.version}`,
    `${run.count}`,
    ...METRICS.map(({ name }) => {
      const value = run.metrics[name];
      // Exact to the nanosecond.
      return value.valueNs !== null && value.reliable ? `${Number((value.valueNs / 1000).toFixed(3))}` : '';
    }),
    run.overruns === null ? '' : `${run.overruns}`,
    ...METRICS.map(({ name }) => {
      const { ratio } = run.metrics[name];
      return ratio === null ? '' : `${Number(ratio.toFixed(4))}`;
    }),
    METRICS.flatMap(({ name, percentile }) => {
      const value = run.metrics[name];
      return value.valueNs !== null && !value.reliable ? [`${name}:${metricCell(value, percentile)}`] : [];
    }).join(';'),
  ]);
}

const CSV_HEADER = ['run', 'file', 'tool', 'count', ...METRICS.map(({ name }) => `${name}_us`), 'overruns', ...METRICS.map(({ name }) => `${name}_ratio`), 'flags'];

/** The comparison in `format`; for CSV the warnings are left out (the caller prints them elsewhere). */
export function formatComparison(comparison: Comparison, format: OutputFormat): string {
  if (format === 'json') return `${JSON.stringify(comparison, null, 2)}\n`;
  if (format === 'csv') return renderTable(CSV_HEADER, csvRows(comparison), 'csv');
  const intro = `latencies in us; ratios to the baseline, ${comparison.baseline}`;
  const notes = footnotes(comparison.runs);
  const warnings = comparison.warnings.map((warning) => `warning: ${warning}`);
  if (format === 'markdown') {
    const quoted = [...warnings, ...notes].map((line) => `> ${line}`);
    return `${intro}\n\n${renderTable(HEADER, markdownRows(comparison), 'markdown')}${quoted.length ? `\n${quoted.join('\n>\n')}\n` : ''}`;
  }
  return [`${intro}\n`, renderTable(HEADER, textRows(comparison), 'text'), ...[...warnings, ...notes].map((line) => `${line}\n`)].join('');
}
