// measureRun, the library's "measure, and give me a run file", called directly as a user's script
// would (no CLI): the run file it resolves to, its hooks in order, the load around it, stopping it
// with an AbortSignal, and what it refuses before anything starts.
import { describe, expect, it } from 'vitest';
import { OptionError } from '../src/errors.js';
import { measureRun, SPIKES_KEPT, usableCpus, type LiveMeasurement } from '../src/measurement/measure.js';
import type { Spike } from '../src/run-file/schema.js';
import { loadProcesses } from './helpers/load-processes.js';
import { schemaProblems } from './helpers/schema.js';

const isRoot = process.getuid?.() === 0;
const MS = 1_000_000;
const cpu = usableCpus().allowed[0]!;

describe('measureRun refuses bad options before starting anything', () => {
  it('rejects with the OptionError of the option', async () => {
    await expect(measureRun({ periodNs: 0 })).rejects.toThrow(OptionError);
    await expect(measureRun({ periodNs: MS, loops: 10, priority: 100 })).rejects.toThrow(/^priority: got 100, expected 1 to 99 for policy fifo$/);
    await expect(measureRun({ loops: 10, cpus: [cpu], load: 'no-such-load' })).rejects.toThrow(OptionError);
  });
});

describe.skipIf(!isRoot)('measureRun (needs root: run the tests as root, as CI does)', () => {
  it('resolves to a run file of what it measured, its hooks called in order', async () => {
    const events: string[] = [];
    const spikes: Spike[] = [];
    let live: LiveMeasurement | null = null;
    const run = await measureRun(
      { periodNs: MS, loops: 30, cpus: [cpu], spikeThresholdNs: 0, commandLine: 'my-script --measure' },
      {
        onStart: (measuring) => {
          events.push('start');
          live = measuring;
          expect(measuring.config.threads.map((thread) => thread.cpu)).toEqual([cpu]);
          expect(measuring.startedAt.getTime()).toBeGreaterThan(0);
        },
        onSpike: (spike) => {
          if (spikes.length === 0) events.push('spike');
          spikes.push(spike);
        },
        onStop: () => events.push('stop'),
      },
    );
    expect(events).toEqual(['start', 'spike', 'stop']);
    expect(live).not.toBeNull();
    expect(schemaProblems(run)).toBe('');
    expect(run.commandLine).toBe('my-script --measure');
    expect(run.stoppedBy).toBe('completed');
    expect(run.threads.map((thread) => [thread.cpu, thread.count])).toEqual([[cpu, 30]]);
    expect(run.all.count).toBe(30);
    // A threshold of 0: every sample is a spike, each handed to the hook and listed in the run file.
    expect(spikes).toHaveLength(30);
    expect(run.spikes).toEqual(spikes);
    expect(run.spikesOmitted).toBe(0);
    expect(SPIKES_KEPT).toBeGreaterThan(30);
    expect(run.environment).not.toBeNull();
    expect(Object.keys(run.during!.perCpu)).toEqual([String(cpu)]);
    expect(run.load).toBeNull();
  });

  it('runs the load around the measurement and records what it did', async () => {
    const run = await measureRun({ periodNs: MS, loops: 200, cpus: [cpu], load: 'syscalls', loadCpus: [cpu] });
    expect(schemaProblems(run)).toBe('');
    expect(run.load!.spec).toBe('syscalls');
    expect(run.load!.cpus).toEqual([cpu]);
    expect(run.load!.generators.map((generator) => [generator.kind, generator.cpu])).toEqual([['syscalls', cpu]]);
    expect(run.load!.generators[0]!.operations).toBeGreaterThan(0);
    expect(loadProcesses(process.pid)).toEqual([]);
  });

  it('stops early when its signal is aborted, and the run file says so', async () => {
    const stop = new AbortController();
    const run = await measureRun({ periodNs: MS, durationNs: 60_000 * MS, cpus: [cpu], signal: stop.signal }, { onStart: () => setTimeout(() => stop.abort(), 200) });
    expect(run.stoppedBy).toBe('signal');
    expect(run.all.count).toBeGreaterThan(0);
    expect(run.all.count).toBeLessThan(60_000);
  });

  it('stops at once when its signal was aborted before it started, and leaves no load running', async () => {
    const stop = new AbortController();
    stop.abort();
    const run = await measureRun({ periodNs: MS, loops: 1_000, cpus: [cpu], load: 'syscalls', signal: stop.signal });
    expect(run.stoppedBy).toBe('signal');
    expect(run.all.count).toBeLessThan(1_000);
    expect(run.load!.spec).toBe('syscalls');
    expect(loadProcesses(process.pid)).toEqual([]);
  });
});
