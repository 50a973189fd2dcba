// The host's side of a guest's explanation (rtlat guest --explain-host): who kept the vCPU threads off
// their CPUs during the explained wake-ups, added up over all of them (src/trace/host-vcpus.ts says it
// for each): the research's HVM finding, a guest's spike <- host load preempting the thread that runs
// the guest, in one line.
import type { RunExplain } from '../../run-file/schema.js';
import { rankCulprits, shareLine } from './summary.js';

/** The explain section with `summary.host` added from its wake-ups' host views. */
export function withHostSummary(explain: RunExplain): RunExplain {
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
