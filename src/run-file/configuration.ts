// The settings that make two runs measure different things. compare warns when they differ; merge refuses.
import type { RunFile } from './schema.js';
import { formatDuration } from '../units.js';

export interface Aspect {
  name: string;
  /** The aspect's value as people read it: equal strings mean equal settings. */
  of(run: RunFile): string;
}

export const PERIOD: Aspect = { name: 'period', of: (run) => formatDuration(run.config.periodNs) };
/** The priority is part of the policy: fifo 99 and fifo 50 are preempted by different things. */
export const POLICY: Aspect = {
  name: 'policy',
  of: ({ config }) => (config.policy === 'fifo' || config.policy === 'rr' ? `${config.policy} ${config.priority}` : config.policy),
};
export const CLOCK: Aspect = { name: 'clock', of: (run) => run.config.clock };
export const LOAD: Aspect = { name: 'load', of: (run) => run.load?.spec ?? 'none' };

export interface NamedRun {
  /** A label or a file name, to say which run has which value. */
  name: string;
  run: RunFile;
}

/** One line per aspect the runs differ in: "period differs: 50us (a.json, c.json), 1ms (b.json)". */
export function differences(runs: readonly NamedRun[], aspects: readonly Aspect[]): string[] {
  const lines: string[] = [];
  for (const aspect of aspects) {
    const byValue = new Map<string, string[]>();
    for (const { name, run } of runs) {
      const value = aspect.of(run);
      byValue.set(value, [...(byValue.get(value) ?? []), name]);
    }
    if (byValue.size > 1) {
      lines.push(`${aspect.name} differs: ${[...byValue].map(([value, names]) => `${value} (${names.join(', ')})`).join(', ')}`);
    }
  }
  return lines;
}
