// Where the late time went, over every explained wake-up: each part's share of the latencies added
// up, and the named causes (a softirq, an IRQ line, a task) biggest first, in one line a person reads first.
import type { ExplainedWakeup, ExplainPart, ExplainSegment, ExplainSummary } from '../../run-file/schema.js';

/** rtla timerlat's names, where it has one. */
export const PART_LABELS: Record<ExplainPart, string> = {
  irqHandlerDelay: 'IRQ handler delay',
  timerIrq: 'Timer IRQ duration',
  irqInterference: 'IRQ interference',
  softirqInterference: 'Softirq interference',
  blockingThread: 'Blocking thread',
  threadInterference: 'Thread interference',
  contextSwitch: 'Context switch and return',
  unexplained: 'Unexplained',
};

/** In the order they happen in a wake-up. */
export const PARTS = Object.keys(PART_LABELS) as ExplainPart[];

/** The parts that are the timer's own delay, the research's L1. */
const TIMER_PARTS: readonly ExplainPart[] = ['irqHandlerDelay', 'timerIrq'];
/** Parts whose segments name what ran, so that the headline names it too. */
const NAMED_PARTS: readonly ExplainPart[] = ['irqInterference', 'softirqInterference', 'blockingThread', 'threadInterference'];
const CULPRITS_KEPT = 20;
const HEADLINE_ITEMS = 6;
/** Items below this share go into the headline's "other". */
const HEADLINE_MIN_SHARE = 0.001;

export function partsOf(segments: readonly ExplainSegment[]): Partial<Record<ExplainPart, number>> {
  const parts: Partial<Record<ExplainPart, number>> = {};
  for (const segment of segments) parts[segment.part] = (parts[segment.part] ?? 0) + segment.ns;
  return parts;
}

/** "61%", "4.2%", "99.8%", "<0.1%": whole percents where a tenth would not matter. */
export function formatShare(share: number): string {
  const percent = share * 100;
  if (percent > 0 && percent < 0.05) return '<0.1%';
  return (percent >= 10 && percent <= 99) || percent === 0 || percent === 100 ? `${percent.toFixed(0)}%` : `${percent.toFixed(1)}%`;
}

/** "softirq NET_RX", "blocking thread kworker/1:2 (pid 88)": how the headline names a cause. */
export function describeCulprit(part: ExplainPart, culprit: string): string {
  switch (part) {
    case 'irqInterference':
      return culprit.startsWith('irq ') ? culprit : `irq ${culprit}`;
    case 'softirqInterference':
      return `softirq ${culprit}`;
    case 'blockingThread':
      return `blocking thread ${culprit}`;
    case 'threadInterference':
      return `thread interference ${culprit}`;
    default:
      return `${PART_LABELS[part].toLowerCase()} ${culprit}`;
  }
}

export interface ShareItem {
  name: string;
  ns: number;
}

/** "a 61%; b 14%; ...; other 3%": the biggest items of `total`, then the rest together. */
export function shareLine(items: readonly ShareItem[], totalNs: number): string {
  if (totalNs <= 0) return 'no late time';
  const sorted = items.filter((item) => item.ns > 0).sort((a, b) => b.ns - a.ns);
  const named = sorted.slice(0, HEADLINE_ITEMS).filter((item) => item.ns / totalNs >= HEADLINE_MIN_SHARE);
  const shown = named.map((item) => `${item.name} ${formatShare(item.ns / totalNs)}`);
  const restNs = sorted.slice(named.length).reduce((sum, item) => sum + item.ns, 0);
  if (restNs / totalNs >= HEADLINE_MIN_SHARE) shown.push(`other ${formatShare(restNs / totalNs)}`);
  return shown.join('; ');
}

/** Adds up named causes over wake-ups: time, and in how many wake-ups each appeared. */
export function rankCulprits<K>(entries: Iterable<{ key: K; id: string; ns: number; wakeup: number }>): { key: K; ns: number; wakeups: number }[] {
  const byId = new Map<string, { key: K; ns: number; wakeups: Set<number> }>();
  for (const entry of entries) {
    const found = byId.get(entry.id) ?? { key: entry.key, ns: 0, wakeups: new Set<number>() };
    found.ns += entry.ns;
    found.wakeups.add(entry.wakeup);
    byId.set(entry.id, found);
  }
  return [...byId.values()].sort((a, b) => b.ns - a.ns).map(({ key, ns, wakeups }) => ({ key, ns, wakeups: wakeups.size }));
}

export function summarizeExplained(wakeups: readonly ExplainedWakeup[]): ExplainSummary {
  const lateNs = wakeups.reduce((sum, wakeup) => sum + wakeup.latencyNs, 0);
  const share = (ns: number) => (lateNs > 0 ? ns / lateNs : 0);
  const totals = new Map<ExplainPart, number>(PARTS.map((part) => [part, 0]));
  for (const wakeup of wakeups) for (const segment of wakeup.segments) totals.set(segment.part, totals.get(segment.part)! + segment.ns);
  const ranked = rankCulprits(
    wakeups.flatMap((wakeup, index) =>
      wakeup.segments
        .filter((segment) => segment.culprit !== null && NAMED_PARTS.includes(segment.part))
        .map((segment) => ({ key: { part: segment.part, culprit: segment.culprit! }, id: `${segment.part}\u0000${segment.culprit}`, ns: segment.ns, wakeup: index })),
    ),
  );
  const headlineItems: ShareItem[] = [
    { name: 'timer delay', ns: TIMER_PARTS.reduce((sum, part) => sum + totals.get(part)!, 0) },
    ...ranked.map(({ key, ns }) => ({ name: describeCulprit(key.part, key.culprit), ns })),
    // Named parts' time that no segment named (none today), so that the line always adds up.
    ...NAMED_PARTS.map((part) => ({
      name: PART_LABELS[part].toLowerCase(),
      ns: totals.get(part)! - ranked.filter(({ key }) => key.part === part).reduce((sum, { ns }) => sum + ns, 0),
    })),
    { name: 'context switch', ns: totals.get('contextSwitch')! },
    { name: 'unexplained', ns: totals.get('unexplained')! },
  ];
  return {
    wakeups: wakeups.length,
    lateNs,
    parts: PARTS.map((part) => ({ part, label: PART_LABELS[part], ns: totals.get(part)!, share: share(totals.get(part)!) })),
    culprits: ranked.slice(0, CULPRITS_KEPT).map(({ key, ns, wakeups: count }) => ({ part: key.part, culprit: key.culprit, ns, share: share(ns), wakeups: count })),
    headline: shareLine(headlineItems, lateNs),
  };
}
