// rtlat's own summary: a table per thread and an all-threads line, latencies in microseconds.
import { minSamplesFor, PERCENTILES } from '../engine/histogram.js';
import type { PercentileValue, RunFile, RunThread } from '../run-file/schema.js';
import { formatDuration, NS_PER_US } from '../units.js';

const COLUMNS = ['thread', 'cpu', 'tid', 'count', 'min', 'avg', ...PERCENTILES.map((p) => `p${p}`), 'max', 'overruns', 'dropped'];

export function microseconds(ns: number): string {
  return (ns / NS_PER_US).toFixed(1);
}

function samplesShort(count: number): string {
  return count >= 1000 ? `${count / 1000}k` : `${count}`;
}

/**
 * A percentile from too few samples is not printed as a number: it says how many it would need. One
 * beyond the histogram (cyclictest -h's overflows) is printed as the bound it is: ">=60.0".
 */
export function percentileCell(value: PercentileValue | undefined): string {
  if (!value) return '-';
  if (value.atLeast) return `>=${microseconds(value.valueNs)}`;
  return value.reliable ? microseconds(value.valueNs) : `(n<${samplesShort(minSamplesFor(value.percentile))})`;
}

/** What a ">=N" cell means, for the notes under a table that has one. */
export const AT_LEAST_NOTE = '>=N: the percentile lies beyond the histogram (cyclictest -h counted those samples only as overflows): it is at least N, its value unknown.';

/** The latency statistics a table row shows, as the cells of its columns count, min, avg, the percentiles, max, overruns, dropped. */
export type LatencyRow = Pick<RunThread, 'count' | 'minNs' | 'avgNs' | 'maxNs' | 'overruns' | 'dropped' | 'percentiles'>;

export function latencyCells(values: LatencyRow): string[] {
  return [
    `${values.count}`,
    microseconds(values.minNs),
    microseconds(values.avgNs),
    ...PERCENTILES.map((p) => percentileCell(values.percentiles.find((value) => value.percentile === p))),
    microseconds(values.maxNs),
    values.overruns === null ? '-' : `${values.overruns}`,
    `${values.dropped}`,
  ];
}

function row(cells: string[]): string {
  return cells.map((cell, index) => (index === 0 ? cell.padEnd(6) : cell.padStart(index < 4 ? 7 : 10))).join(' ');
}

export function formatSummaryTable(run: RunFile): string {
  const { config } = run;
  const header =
    `rtlat ${run.rtlatVersion}: period ${formatDuration(config.periodNs)}, policy ${config.policy}` +
    `${config.policy === 'fifo' || config.policy === 'rr' ? ` ${config.priority}` : ''}, clock ${config.clock}, ` +
    `${run.threads.length} thread${run.threads.length === 1 ? '' : 's'}, latencies in us`;
  const lines = [header, row(COLUMNS)];
  for (const thread of run.threads) {
    lines.push(
      row([`${thread.thread}`, thread.cpu === null ? '-' : `${thread.cpu}`, thread.tid === null ? '-' : `${thread.tid}`, ...latencyCells(thread)]),
    );
  }
  const { all } = run;
  lines.push(row(['all', '-', '-', ...latencyCells(all)]));
  const percentiles = [...run.threads.flatMap((t) => t.percentiles), ...all.percentiles];
  if (percentiles.some((value) => !value.reliable && !value.atLeast)) {
    lines.push('(n<N): too few samples for that percentile to mean anything; it needs N (10 beyond it).');
  }
  if (percentiles.some((value) => value.atLeast)) lines.push(AT_LEAST_NOTE);
  if (all.dropped > 0) {
    lines.push(`${all.dropped} samples were dropped (ring full): count/min/avg/max include them, percentiles do not.`);
  }
  if (run.degraded.length > 0) lines.push(`DEGRADED run: not permitted: ${run.degraded.join('; ')}`);
  return `${lines.join('\n')}\n`;
}
