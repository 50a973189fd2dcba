// `rtlat analyze`'s text: per run, per thread and for all threads, the checks with their statistics,
// the fits, the bounds (a bound whose checks failed is printed as not trustworthy, with why, its
// number only in brackets as what the fit says), the convergence, and the schedulability.
import type { AnalysisDocument, RunAnalysis, ThreadAnalysis } from '../measurement/analyze/analyze.js';
import type { Bound, Check, TailAnalysis } from '../measurement/analyze/pwcet.js';
import { formatDuration, NS_PER_S, NS_PER_US } from '../units.js';

const METHOD_NAMES: Record<Bound['method'], string> = { 'pot-gpd': 'POT/GPD', 'bm-gev': 'BM/GEV' };

/** Latencies with four significant digits (the fits are not more precise), in us, ms or s. */
export function us(ns: number | null): string {
  if (ns === null) return '-';
  const [unit, size] = Math.abs(ns) >= NS_PER_S ? ['s', NS_PER_S] : Math.abs(ns) >= 1_000 * NS_PER_US ? ['ms', 1_000 * NS_PER_US] : ['us', NS_PER_US];
  return `${Number((ns / size).toPrecision(4))}${unit}`;
}

/** A long time the way people say it: 40 s, 17 min, 5.2 h, 11.6 days, 32 years, 1.3e+05 years. */
function humanTime(seconds: number): string {
  const year = 365 * 86_400;
  if (seconds >= 1_000 * year) return `${(seconds / year).toExponential(1)} years`;
  if (seconds >= 2 * year) return `${Number((seconds / year).toPrecision(3))} years`;
  if (seconds >= 2 * 86_400) return `${Number((seconds / 86_400).toPrecision(3))} days`;
  if (seconds >= 2 * 3_600) return `${Number((seconds / 3_600).toPrecision(3))} h`;
  if (seconds >= 120) return `${Number((seconds / 60).toPrecision(3))} min`;
  return `${Number(seconds.toPrecision(3))} s`;
}

function probability(p: number): string {
  return p.toExponential(0).replace('e-', 'e-').replace('e+0', '');
}

/** How long the wake-ups take, on average, to exceed a bound once. */
function meanTimeBetween(bound: Bound, wakeupsPerHour: number): string {
  return humanTime(3_600 / (bound.probability * wakeupsPerHour));
}

function table(rows: string[][], indent = '    '): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)));
  return rows.map((row) => indent + row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd()).join('\n') + '\n';
}

function statistic(check: Check): string {
  const value = Number(check.statistic.toPrecision(3));
  switch (check.name) {
    case 'ljung-box':
      return `Q=${value} (${check.details.lags} lags)`;
    case 'runs':
      return `z=${value} (${check.details.runs} runs)`;
    case 'kpss':
      return `eta=${value} (${check.details.lags} lags)`;
    default:
      return `A2=${value} (${check.details.replicates} bootstrap fits)`;
  }
}

function pValue(check: Check): string {
  // KPSS's p-value comes from its table, clamped at its ends.
  if (check.name === 'kpss' && check.pValue >= 0.1) return 'p>=0.10';
  if (check.name === 'kpss' && check.pValue <= 0.01) return 'p<=0.01';
  if (check.pValue < 1e-4) return 'p<1e-4';
  return `p=${check.pValue < 0.001 ? check.pValue.toExponential(1) : check.pValue.toFixed(3)}`;
}

function formatChecks(checks: readonly Check[], alpha: number): string {
  if (checks.length === 0) return '';
  const subject = { 'block-maxima': 'block maxima', 'pot-excesses': 'POT excesses', 'bm-maxima': 'BM maxima' };
  return `  checks (a p-value below ${alpha} fails):\n${table(checks.map((check) => [subject[check.subject], check.name, statistic(check), pValue(check), check.passed ? 'pass' : 'FAIL', check.verdict]))}`;
}

function formatFits(analysis: TailAnalysis): string {
  const lines: string[] = [];
  if ('unavailable' in analysis.pot) lines.push(`  peaks over threshold: none (${analysis.pot.unavailable})`);
  else {
    const pot = analysis.pot;
    lines.push(
      `  peaks over threshold: threshold ${us(pot.thresholdNs)} by the CV method (CV ${pot.cv.toFixed(2)}, ${pot.exponentialTail ? 'an exponential tail' : 'no exponential tail at any candidate'}), ` +
        `${pot.excesses} excesses (${(100 * pot.exceedanceRate).toPrecision(2)}% of wake-ups); GPD scale ${us(pot.scaleNs)}, shape ${pot.shape.toFixed(3)}`,
    );
  }
  if ('unavailable' in analysis.bm) lines.push(`  block maxima: none (${analysis.bm.unavailable})`);
  else {
    const bm = analysis.bm;
    lines.push(`  block maxima: ${bm.blocks} blocks of ${bm.blockSize} wake-ups; GEV location ${us(bm.locationNs)}, scale ${us(bm.scaleNs)}, shape ${bm.shape.toFixed(3)}`);
  }
  return `${lines.join('\n')}\n`;
}

function interval(lowerNs: number | null, upperNs: number | null): string {
  return lowerNs === null ? '-' : `[${us(lowerNs)}, ${upperNs === null ? 'unbounded' : us(upperNs)}]`;
}

function formatBounds(analysis: TailAnalysis, wakeupsPerHour: number): string {
  const rows = [['p per wake-up', 'per hour', 'about once in', 'method', 'bound', `${Math.round(analysis.confidence * 100)}% interval`, 'verdict']];
  for (const bound of analysis.bounds) {
    const head = [probability(bound.probability), bound.perHourProbability.toPrecision(2), meanTimeBetween(bound, wakeupsPerHour), METHOD_NAMES[bound.method]];
    if (bound.valueNs === null) rows.push([...head, '-', '-', bound.why]);
    else if (bound.trustworthy) rows.push([...head, us(bound.valueNs), interval(bound.lowerNs, bound.upperNs), 'trustworthy']);
    // Not a confident number: the fit's value only in brackets, after the verdict and why.
    else rows.push([...head, 'NOT TRUSTWORTHY', `(fit: ${us(bound.valueNs)} ${interval(bound.lowerNs, bound.upperNs)})`, bound.why]);
  }
  return `  bounds (profile-likelihood intervals), against the measured maximum ${us(analysis.maxNs)}:\n${table(rows)}`;
}

function formatConvergence(analysis: TailAnalysis): string {
  const { steps, needed, targetWidthNs } = analysis.convergence;
  const rows = [['bound', ...steps.map((step) => `${Math.round(step.fraction * 100)}% (${step.count})`)]];
  for (const { probability: p, method } of steps[steps.length - 1]!.bounds) {
    rows.push([
      `${METHOD_NAMES[method]} ${probability(p)}`,
      ...steps.map((step) => us(step.bounds.find((bound) => bound.probability === p && bound.method === method)?.valueNs ?? null)),
    ]);
  }
  let text = `  convergence (each estimate from the run's start up to that share of its wake-ups):\n${table(rows)}`;
  if (targetWidthNs !== null) {
    const lengths = needed.map(({ probability: p, method, widthNs, runLengthNs }) => [
      `${METHOD_NAMES[method]} ${probability(p)}`,
      widthNs === null ? 'no finite interval now' : `interval ${us(widthNs)} wide`,
      runLengthNs === null ? 'unknown' : runLengthNs === 0 ? 'already narrower' : `needs about ${humanTime(runLengthNs / NS_PER_S)} of run`,
    ]);
    text += `  run length for an interval ${us(targetWidthNs)} wide (widths shrink as 1/sqrt(wake-ups)):\n${table(lengths)}`;
  }
  return text;
}

function formatTail(title: string, analysis: TailAnalysis, wakeupsPerHour: number, alpha: number): string {
  return [`${title}: ${analysis.count} wake-ups, maximum ${us(analysis.maxNs)}\n`, formatChecks(analysis.checks, alpha), formatFits(analysis), formatBounds(analysis, wakeupsPerHour), formatConvergence(analysis)].join('');
}

function formatSchedulability(result: NonNullable<RunAnalysis['schedulability']>): string {
  const { latency } = result;
  const where = result.vcpu ? `on a vCPU of ${formatDuration(result.vcpu.budgetNs)} every ${formatDuration(result.vcpu.periodNs)}` : 'on a dedicated CPU';
  const source = latency.bound ? `${latency.choice}: the upper end of the ${METHOD_NAMES[latency.bound.method]} interval` : latency.choice;
  const trust = latency.trustworthy ? '' : ` (NOT TRUSTWORTHY: ${latency.why}; the verdicts below hold only if the latency does)`;
  const rows = [['task', 'wcet', 'period', 'deadline', 'priority', 'response', 'slack', 'verdict']];
  for (const task of result.tasks) {
    rows.push([
      task.name,
      formatDuration(task.wcetNs),
      formatDuration(task.periodNs),
      formatDuration(task.deadlineNs),
      task.priority === null ? '-' : `${task.priority}`,
      task.responseTimeNs === null ? 'unbounded' : us(task.responseTimeNs),
      task.slackNs === null ? '-' : us(task.slackNs),
      task.schedulable ? 'schedulable' : 'DEADLINE MISS',
    ]);
  }
  const lines = [
    `schedulability (${result.scheduler}, ${where}, utilisation ${result.utilisation.toFixed(3)}) with release latency ${us(result.latencyBoundNs)} (${source})${trust}:`,
    table(rows, '  ').trimEnd(),
    `  the set is ${result.schedulable ? 'schedulable' : 'NOT schedulable'}${result.undecided ? ' (the demand test gave up: too many deadlines to check)' : ''}${result.demandFailsAtNs !== null ? `; demand exceeds supply in a window of ${us(result.demandFailsAtNs)}` : ''}`,
    result.toleratedLatencyNs === null
      ? '  tolerated latency J*: none (not schedulable even without latency)'
      : `  tolerated latency J* = ${us(result.toleratedLatencyNs)}; margin against the latency used ${us(result.marginNs)}`,
  ];
  if (result.vcpu) {
    lines.push(
      result.minimumBudgetNs === null
        ? `  minimum vCPU budget at ${formatDuration(result.vcpu.periodNs)}: none (not schedulable even with the whole period)`
        : `  minimum vCPU budget at ${formatDuration(result.vcpu.periodNs)}: ${us(result.minimumBudgetNs)} (${((100 * result.minimumBudgetNs) / result.vcpu.periodNs).toFixed(1)}%)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function formatAnalysis(document: AnalysisDocument): string {
  const parts: string[] = [];
  for (const run of document.runs) {
    const perHour = (thread: ThreadAnalysis) => 3_600 * NS_PER_S / thread.periodNs;
    parts.push(`${run.file}\n`);
    if (run.threads.length > 1) {
      for (const thread of run.threads) parts.push(formatTail(`thread ${thread.thread}${thread.cpu === null ? '' : ` (CPU ${thread.cpu})`}, period ${formatDuration(thread.periodNs)}`, thread, perHour(thread), document.alpha), '\n');
    }
    const title = run.threads.length === 1 ? `thread 0${run.threads[0]!.cpu === null ? '' : ` (CPU ${run.threads[0]!.cpu})`}, period ${formatDuration(run.threads[0]!.periodNs)} (all threads)` : `all ${run.all.threads} threads`;
    parts.push(formatTail(title, run.all, run.threads.reduce((sum, thread) => sum + perHour(thread), 0), document.alpha));
    if (run.schedulability) parts.push('\n', formatSchedulability(run.schedulability));
    parts.push('\n');
  }
  return parts.join('').replace(/\n+$/, '\n');
}
