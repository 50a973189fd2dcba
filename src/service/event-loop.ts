// Node's own event-loop delay, kept beside the kernel's wake-up latency so that one snapshot shows
// both: what the machine did to a real-time thread, and what this process's event loop saw.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { newHistogram, type Histogram } from '../engine/histogram.js';
import { NS_PER_MS } from '../units.js';

/** Node's own default: one timer per 10 ms costs the loop next to nothing. */
export const EVENT_LOOP_RESOLUTION_MS = 10;

export class EventLoopDelay {
  readonly resolutionNs: number;
  private readonly monitor: IntervalHistogram;

  /** `resolutionMs` as startProbe checked it: a whole number of ms, 1 to 1000. */
  constructor(resolutionMs = EVENT_LOOP_RESOLUTION_MS) {
    this.resolutionNs = resolutionMs * NS_PER_MS;
    // libuv's timer behind the monitor is unref'd: it never keeps the process or worker alive.
    this.monitor = monitorEventLoopDelay({ resolution: resolutionMs });
    this.monitor.enable();
  }

  /**
   * Moves what the monitor recorded since the previous call into a histogram of delays in ns, and
   * restarts the monitor. Node records the whole timer-to-timer interval, so the resolution is
   * subtracted. Node exposes its histogram only as percentile points (at 50, 75, 87.5, ... 100, finer
   * towards the tail); the samples between two points are recorded at the upper one, which can only
   * overstate a delay, never hide one.
   */
  harvest(): Histogram {
    const delays = newHistogram();
    const count = this.monitor.count;
    if (count > 0) {
      let counted = 0;
      for (const [percentile, intervalNs] of [...this.monitor.percentiles].sort(([a], [b]) => a - b)) {
        const upTo = Math.round((count * percentile) / 100);
        if (upTo > counted) delays.recordValueWithCount(Math.max(0, intervalNs - this.resolutionNs), upTo - counted);
        counted = Math.max(counted, upTo);
      }
    }
    this.monitor.reset();
    return delays;
  }

  stop(): void {
    this.monitor.disable();
  }
}
