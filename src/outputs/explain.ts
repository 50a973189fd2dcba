// The explain section as text, after the summary table: where the late time went first, then the
// parts, the largest wake-ups one by one, and what the trace lost.
import { formatShare, PART_LABELS } from '../measurement/explain/summary.js';
import type { ExplainedWakeup, RunExplain } from '../run-file/schema.js';
import { formatCpuList, formatDuration } from '../units.js';
import { microseconds } from './table.js';

const WAKEUPS_LISTED = 3;
const SEGMENTS_LISTED = 4;

function describeWakeup(wakeup: ExplainedWakeup): string {
  // The biggest stretches by part and culprit, as the wake-up's own line.
  const byName = new Map<string, number>();
  for (const segment of wakeup.segments) {
    const name = `${PART_LABELS[segment.part]}${segment.culprit ? ` ${segment.culprit}` : ''}`;
    byName.set(name, (byName.get(name) ?? 0) + segment.ns);
  }
  const sorted = [...byName].sort((a, b) => b[1] - a[1]);
  const shown = sorted.slice(0, SEGMENTS_LISTED).map(([name, ns]) => `${name} ${microseconds(ns)}us`);
  if (sorted.length > SEGMENTS_LISTED) shown.push(`${sorted.length - SEGMENTS_LISTED} more`);
  return (
    `T:${wakeup.thread}${wakeup.cpu === null ? '' : ` CPU:${wakeup.cpu}`} cycle ${wakeup.cycle} ${microseconds(wakeup.latencyNs)}us: ${shown.join(', ')}` +
    `${wakeup.complete ? '' : ' (trace incomplete)'}`
  );
}

/** The line a guest's output gets for the host's side of its explanation (--explain-host); '' without one. */
export function formatHostExplain(explain: RunExplain | null | undefined): string {
  const host = explain?.summary.host;
  if (!host) return '';
  return `explain (host): vCPU threads kept off their CPUs ${formatDuration(host.preemptedNs)} in the explained wake-ups: ${host.headline}; ${explain.hostTrace?.lostEvents ?? 0} host trace events lost\n`;
}

export function formatExplain(explain: RunExplain): string {
  const { summary, trace } = explain;
  const thresholds = explain.threads.map((thread) => `T:${thread.thread} ${microseconds(thread.thresholdNs)}us`).join(', ');
  const chosen = explain.selection.thresholdNs === null ? `above p${explain.selection.percentile} (${thresholds})` : `above ${microseconds(explain.selection.thresholdNs)}us`;
  const explained = explain.threads.reduce((sum, thread) => sum + thread.explained, 0);
  const above = explain.threads.reduce((sum, thread) => sum + thread.above, 0);
  const events = trace.perCpu.reduce((sum, cpu) => sum + cpu.events, 0);
  const lines = [
    `explain: ${explained} wake-up${explained === 1 ? '' : 's'} ${chosen}` +
      `${above > explained ? ` (of ${above}; at most ${explain.selection.maxPerThread} a thread, the largest)` : ''}; ` +
      `trace of CPU${trace.perCpu.length === 1 ? '' : 's'} ${formatCpuList(trace.perCpu.map((cpu) => cpu.cpu))}: ${events} events, ${trace.lostEvents} lost`,
  ];
  if (summary.wakeups === 0) return `${lines.join('\n')}\n`;
  lines.push(`  late time (${microseconds(summary.lateNs)}us): ${summary.headline}`);
  lines.push(`  parts: ${summary.parts.filter((part) => part.ns > 0).map((part) => `${part.label} ${formatShare(part.share)}`).join(', ')}`);
  if (summary.host) lines.push(`  host (vCPU threads preempted ${microseconds(summary.host.preemptedNs)}us): ${summary.host.headline}`);
  for (const wakeup of explain.wakeups.slice(0, WAKEUPS_LISTED)) lines.push(`  ${describeWakeup(wakeup)}`);
  const incomplete = explain.threads.reduce((sum, thread) => sum + thread.incomplete, 0);
  if (trace.lostEvents > 0 || incomplete > 0) {
    const lostOn = trace.perCpu.filter((cpu) => cpu.lostEvents > 0).map((cpu) => `${cpu.lostEvents} on CPU ${cpu.cpu}`);
    lines.push(
      `  WARNING: trace events lost${lostOn.length ? ` (${lostOn.join(', ')})` : ''}; ${incomplete} explained wake-up${incomplete === 1 ? '' : 's'} ` +
        `had an incomplete trace${trace.bufferKbPerCpu ? ` (buffer ${trace.bufferKbPerCpu} KiB a CPU)` : ''}`,
    );
  }
  if (trace.missingEvents.length > 0) lines.push(`  (this kernel has no ${trace.missingEvents.join(', ')})`);
  return `${lines.join('\n')}\n`;
}
