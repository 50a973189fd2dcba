// The host's side of a guest's explanation (rtlat guest --explain-host): who kept the vCPU threads off
// their CPUs during the explained wake-ups, added up over all of them (src/trace/host-vcpus.ts says it
// for each): the research's HVM finding, a guest's spike <- host load preempting the thread that runs
// the guest, in one line.
import type { RunExplain, RunFile } from '../../run-file/schema.js';
import { rankCulprits, shareLine } from './summary.js';

/** A guest's result with `summary.host` added to its run's explain section, when the host traced its vCPU threads. */
export function withHostSummary<Result extends { run: RunFile | null }>(result: Result): Result {
  const explain = result.run?.explain;
  return explain?.hostTrace ? { ...result, run: { ...result.run!, explain: hostSummaryAdded(explain) } } : result;
}

/** The explain section with `summary.host` added from its wake-ups' host views. */
function hostSummaryAdded(explain: RunExplain): RunExplain {
  const preemptedNs = explain.wakeups.reduce((sum, wakeup) => sum + (wakeup.host?.preemptedNs ?? 0), 0);
  const ranked = rankCulprits(explain.wakeups.flatMap((wakeup, index) => (wakeup.host?.preemptedBy ?? []).map(({ culprit, ns }) => ({ key: culprit, id: culprit, ns, wakeup: index }))));
  return {
    ...explain,
    summary: {
      ...explain.summary,
      host: {
        preemptedNs,
        culprits: ranked.map(({ key, ns, wakeups }) => ({ culprit: key, ns, share: preemptedNs > 0 ? ns / preemptedNs : 0, wakeups })),
        headline: shareLine(ranked.map(({ key, ns }) => ({ name: key, ns })), preemptedNs),
      },
    },
  };
}
