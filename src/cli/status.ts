// The live status on a terminal: one refreshing line per thread, like cyclictest without -q.
import type { LiveMeasurement } from '../measurement/measure.js';
import { formatDuration, NS_PER_MS, NS_PER_US } from '../units.js';

const REFRESH_MS = 250;

export class StatusLine {
  private lines = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly startedMs = Date.now();

  constructor(
    private readonly probe: LiveMeasurement,
    private readonly out: NodeJS.WriteStream,
  ) {
    this.timer = setInterval(() => this.render(), REFRESH_MS);
    this.timer.unref();
  }

  clear(): void {
    clearInterval(this.timer);
    this.erase();
  }

  private erase(): void {
    if (this.lines > 0) this.out.write(`\x1b[${this.lines}A\x1b[J`);
    this.lines = 0;
  }

  private render(): void {
    const stats = this.probe.liveStats();
    if (stats.length === 0) return;
    const { config } = this.probe;
    const elapsedNs = (Date.now() - this.startedMs) * NS_PER_MS;
    const us = (ns: number) => Math.trunc(ns / NS_PER_US);
    const rows = stats.map((thread, index) => {
      const plan = config.threads[index]!;
      const avg = thread.count ? thread.sumNs / thread.count : 0;
      return (
        `T:${String(index).padStart(2)} CPU:${plan.cpu ?? '-'} I:${us(plan.periodNs)} C:${String(thread.count).padStart(9)} ` +
        `Min:${String(us(thread.minNs)).padStart(7)} Act:${String(us(thread.lastNs)).padStart(7)} ` +
        `Avg:${String(us(avg)).padStart(7)} Max:${String(us(thread.maxNs)).padStart(8)} ` +
        `Ovr:${thread.overruns} Drop:${thread.dropped}`
      );
    });
    const remaining = config.durationNs ? ` / ${formatDuration(config.durationNs)} (${formatDuration(Math.max(0, config.durationNs - elapsedNs))} left)` : '';
    rows.push(`elapsed ${formatDuration(elapsedNs)}${remaining}  (latencies in us; Ctrl-C stops and writes the results)`);
    this.erase();
    this.out.write(`${rows.join('\n')}\n`);
    this.lines = rows.length;
  }
}
