// The report's view of a run's explain section: the summary first (where the late time went, the
// named causes), then one stacked bar per explained wake-up, its parts in the order they happened.
import { microseconds } from '../table.js';
import { describeCulprit, formatShare, PART_LABELS, PARTS } from '../../measurement/explain/summary.js';
import type { ExplainedWakeup, ExplainPart, RunFile } from '../../run-file/schema.js';
import { formatCpuList } from '../../units.js';
import { escapeXml as escape } from './escape.js';
import { PALETTE } from './plots.js';

/** Bars drawn at most; the run file has them all. */
const BARS_SHOWN = 50;
const CULPRITS_SHOWN = 10;

/** One color a part, the same in every bar and in the legend. */
export function partColor(part: ExplainPart): string {
  return PALETTE[PARTS.indexOf(part) % PALETTE.length]!;
}

function bar(wakeup: ExplainedWakeup): string {
  // Each bar is the wake-up's own latency: its parts as shares of it, so that short and long ones both read.
  const pieces = wakeup.segments.map((segment) => {
    const title = `${PART_LABELS[segment.part]}${segment.culprit ? `: ${segment.culprit}` : ''}, ${microseconds(segment.ns)}us from +${microseconds(segment.offsetNs)}us`;
    const width = (100 * segment.ns) / wakeup.latencyNs;
    return `<span class="piece" style="width:${width.toFixed(3)}%;background:${partColor(segment.part)}" title="${escape(title)}"></span>`;
  });
  const label = `T:${wakeup.thread}${wakeup.cpu === null ? '' : ` CPU ${wakeup.cpu}`} cycle ${wakeup.cycle}`;
  return (
    `<tr><td>${escape(label)}</td><td>${microseconds(wakeup.latencyNs)}</td>` +
    `<td class="bar-cell"><div class="bar">${pieces.join('')}</div></td><td>${wakeup.complete ? '' : 'trace incomplete'}</td></tr>`
  );
}

export function explainSection(run: RunFile): string {
  const explain = run.explain;
  if (!explain) return '';
  const { summary, trace } = explain;
  const legend = PARTS.filter((part) => summary.parts.some((entry) => entry.part === part && entry.ns > 0))
    .map((part) => `<li>${`<span class="swatch-box" style="background:${partColor(part)}"></span>`}${escape(PART_LABELS[part])}</li>`)
    .join('');
  const parts = summary.parts
    .filter((part) => part.ns > 0)
    .map((part) => `<tr><td><span class="swatch-box" style="background:${partColor(part.part)}"></span>${escape(part.label)}</td><td>${microseconds(part.ns)}</td><td>${formatShare(part.share)}</td></tr>`)
    .join('');
  const culprits = summary.culprits
    .slice(0, CULPRITS_SHOWN)
    .map((culprit) => `<tr><td>${escape(describeCulprit(culprit.part, culprit.culprit))}</td><td>${microseconds(culprit.ns)}</td><td>${formatShare(culprit.share)}</td><td>${culprit.wakeups}</td></tr>`)
    .join('');
  const chosen = explain.selection.thresholdNs === null ? `above each thread's p${explain.selection.percentile}` : `above ${microseconds(explain.selection.thresholdNs)}us`;
  const lost = trace.lostEvents > 0 ? ` <strong>${trace.lostEvents} trace events were lost</strong>;` : '';
  const shown = explain.wakeups.slice(0, BARS_SHOWN);
  return [
    '<h3>Why the late wake-ups were late</h3>',
    `<p><strong>${escape(summary.headline)}</strong></p>`,
    `<p class="weak">${summary.wakeups} wake-ups ${escape(chosen)} (at most ${explain.selection.maxPerThread} a thread), ${microseconds(summary.lateNs)}us of latency together;` +
      `${lost} traced on CPU ${escape(formatCpuList(trace.perCpu.map((cpu) => cpu.cpu)))} with the kernel's standard events, parts named as rtla timerlat names them.</p>`,
    summary.host ? `<p>On the host, the vCPU threads were preempted for ${microseconds(summary.host.preemptedNs)}us: ${escape(summary.host.headline)}</p>` : '',
    '<div class="facts explain-tables">',
    `<table class="explain-parts"><thead><tr><th>part</th><th>us</th><th>share</th></tr></thead><tbody>${parts}</tbody></table>`,
    culprits
      ? `<table class="explain-culprits"><thead><tr><th>named cause</th><th>us</th><th>share</th><th>wake-ups</th></tr></thead><tbody>${culprits}</tbody></table>`
      : '<p class="weak">No interrupt, softirq or task was named.</p>',
    '</div>',
    shown.length
      ? [
          `<figure><table class="explain-bars"><thead><tr><th>wake-up</th><th>us</th><th>its latency, from due time to wake-up</th><th></th></tr></thead><tbody>${shown.map(bar).join('')}</tbody></table>`,
          `<figcaption><ul class="legend-parts">${legend}</ul>The ${shown.length} largest explained wake-ups${explain.wakeups.length > shown.length ? ` of ${explain.wakeups.length}` : ''}, each bar its own latency; hover a part for what ran and for how long.</figcaption></figure>`,
        ].join('')
      : '',
  ].join('\n');
}
