// A sweep as text: the set-up line, one row per run, and the timer-resolution estimate per load condition.
import { byLoadCondition, estimateTimerResolution, RESOLVED_BELOW_SHARE, type SweepPlan, type SweepPoint, type TimerResolutionEstimate } from '../measurement/sweep.js';
import { formatCpuList, formatDuration } from '../units.js';
import { RTLAT_VERSION } from '../version.js';
import { microseconds, percentileCell } from './table.js';

export function describeEstimate(estimate: TimerResolutionEstimate): string {
  const share = `${RESOLVED_BELOW_SHARE * 100}%`;
  const where =
    estimate.resolvedFromNs === null
      ? `latencies exceed the period at every period up to ${formatDuration(estimate.longestPeriodNs)} (${share} or more of wake-ups later than it)`
      : estimate.exceededUpToNs === null
        ? `no period was exceeded (fewer than ${share} of wake-ups later than the period from ${formatDuration(estimate.shortestPeriodNs)} on)`
        : `latencies exceed the period up to ${formatDuration(estimate.exceededUpToNs)} and stop at ${formatDuration(estimate.resolvedFromNs)} ` +
          `(fewer than ${share} of wake-ups later than the period from there on)`;
  return `${where}; lowest minimum latency ${microseconds(estimate.minLatencyFloorNs)}us`;
}

const SUMMARY_COLUMNS = ['period', 'load', 'count', 'min', 'p50', 'p99', 'p99.9', 'max', '>period', 'overruns'];

function summaryRow(cells: string[]): string {
  return cells.map((cell, index) => (index === 1 ? cell.padEnd(4) : cell.padStart(index === 0 ? 7 : 9))).join(' ');
}

export function formatSweepSummary(points: readonly SweepPoint[]): string {
  const lines = [summaryRow(SUMMARY_COLUMNS)];
  for (const point of points) {
    const { all } = point.run;
    const percentile = (p: number) => percentileCell(all.percentiles.find((value) => value.percentile === p));
    lines.push(
      summaryRow([
        formatDuration(point.periodNs),
        // The spec itself is in the header line.
        point.load === null ? 'none' : 'load',
        `${all.count}`,
        microseconds(all.minNs),
        percentile(50),
        percentile(99),
        percentile(99.9),
        microseconds(all.maxNs),
        `${(point.exceedingShare * 100).toFixed(2)}%`,
        all.overruns === null ? '-' : `${all.overruns}`,
      ]),
    );
  }
  const conditions = byLoadCondition(points, (point) => point.load);
  for (const { load, entries } of conditions) {
    const label = conditions.length === 1 ? '' : load === null ? ' without load' : ' with load';
    lines.push(`timer resolution${label}: ${describeEstimate(estimateTimerResolution(entries))}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The line a sweep starts with: what it will measure. */
export function describeSweep(plan: SweepPlan): string {
  const { config } = plan;
  const periods = new Set(plan.cases.map((sweepCase) => sweepCase.periodNs)).size;
  const cpus = config.threads.flatMap((thread) => (thread.cpu === null ? [] : [thread.cpu]));
  return (
    `rtlat ${RTLAT_VERSION} sweep: ${periods} period${periods === 1 ? '' : 's'}, ${formatDuration(config.durationNs!)} each, ` +
    `policy ${config.policy}${config.policy === 'fifo' || config.policy === 'rr' ? ` ${config.priority}` : ''}, ` +
    `${config.threads.length} thread${config.threads.length === 1 ? '' : 's'}${cpus.length ? ` on CPUs ${formatCpuList(cpus)}` : ''}` +
    `${plan.load ? `, load ${plan.load.text} on CPUs ${formatCpuList(plan.loadCpus)}` : ''}; latencies in us\n`
  );
}
