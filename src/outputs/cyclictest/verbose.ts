// cyclictest -v: one line per wake-up ("thread:cycle:latency"), or with -o N (oscilloscope mode) one per
// N wake-ups, the largest of them and its cycle, as cyclictest's print_stat reduces them.
import { NS_PER_US } from '../../units.js';
import { formatVerboseSample } from './text.js';

export class VerboseSamples {
  private readonly threads: { reduce: number; maxLatency: number; cycleOfMax: number }[];

  constructor(
    threads: number,
    private readonly reduction: number,
    private readonly nsecs: boolean,
  ) {
    this.threads = Array.from({ length: threads }, () => ({ reduce: 0, maxLatency: 0, cycleOfMax: 0 }));
  }

  /** The lines for `count` (latencyNs, dueNs, cycle) triples of one thread, in order. */
  take(thread: number, samples: Float64Array, count: number): string {
    const state = this.threads[thread]!;
    let text = '';
    for (let i = 0; i < count; i++) {
      const latencyNs = samples[3 * i]!;
      const latency = this.nsecs ? latencyNs : Math.trunc(latencyNs / NS_PER_US);
      // As cyclictest: a group of zeros keeps the previous group's cycle.
      if (latency > state.maxLatency) {
        state.maxLatency = latency;
        state.cycleOfMax = samples[3 * i + 2]!;
      }
      if (++state.reduce === this.reduction) {
        text += formatVerboseSample(thread, state.cycleOfMax, state.maxLatency);
        state.reduce = 0;
        state.maxLatency = 0;
      }
    }
    return text;
  }
}
