// docs/run.schema.json against run files from every producer: the importer (both fixtures), a run
// built by hand with every optional part filled, and (as root) a real measurement. The schema is
// strict (no unknown fields), so a field added to src/run-file/schema.ts without the schema fails here.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffCpuCounters, readCpuCounters, readFingerprint } from '../src/fingerprint/index.js';
import { importCyclictestJson } from '../src/import/cyclictest.js';
import { Probe } from '../src/engine/probe.js';
import { runFileFromProbe } from '../src/run-file/from-probe.js';
import type { RunFile } from '../src/run-file/schema.js';
import { runSchema as schema, schemaIsValid, schemaProblems as problems } from './helpers/schema.js';
import { fixture, handBuiltExplain, handBuiltRun, handBuiltThread, histogramFixtureRun, summaryFixtureRun } from './helpers/runs.js';

/** Fields added to version 1 after files were written without them: optional, so those files stay valid. */
const ADDED_LATER = ['explain'];

function fixtureTree(name: string): string {
  return path.resolve(import.meta.dirname, 'fixtures/fingerprint', name);
}

function fullRun(): RunFile {
  return handBuiltRun(
    [handBuiltThread({ thread: 0 }), handBuiltThread({ thread: 1, cpu: null, applied: { policy: 'deadline', priority: 0, cpus: [0, 1] } })],
    {
      environment: readFingerprint({ root: fixtureTree('preempt-rt') }),
      during: diffCpuCounters(readCpuCounters([0, 1], { root: fixtureTree('counters-before') }), readCpuCounters([0, 1], { root: fixtureTree('counters-after') })),
      degraded: ['SCHED_FIFO priority 99'],
      stoppedBy: 'breaktrace',
      breaktrace: { thread: 1, cpu: null, latencyNs: 250_000, tracingStopped: true },
      load: { spec: 'syscalls,ipc', cpus: [0, 1], generators: [{ kind: 'syscalls', cpu: 0, operations: 1_000_000, opsPerSecond: 250_000.5 }] },
      hostEnvironment: readFingerprint({ root: fixtureTree('host-isolated') }),
      guest: {
        accelerator: 'tcg',
        emulated: true,
        acceleratorReason: 'the KVM probe boot did not come up within 10s',
        kernel: { path: '/cache/vmlinuz-rt', release: '6.1.0-41-rt-amd64' },
        qemu: { path: '/usr/bin/qemu-system-x86_64', version: '7.2.19' },
        vcpus: 2,
        memoryMiB: 1024,
        vcpuCpus: [0, 1],
        qemuPriority: 90,
        guestCommandLine: 'rtlat measure --period 1ms --loops 1000 --json /out/run.json',
      },
      explain: handBuiltExplain(),
    },
  );
}

describe('docs/run.schema.json', () => {
  it('is a valid draft 2020-12 schema of rtlat.run version 1', () => {
    expect(schema['$schema']).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schemaIsValid()).toBe(true);
  });

  it('names every field of a run file, and only those; all required but those added later', () => {
    const properties = Object.keys(schema['properties'] as object).sort();
    expect(properties).toEqual(Object.keys(fullRun()).sort());
    expect((schema['required'] as string[]).slice().sort()).toEqual(properties.filter((name) => !ADDED_LATER.includes(name)));
  });

  it('accepts a file written before the fields added later', () => {
    const older = fullRun() as Partial<RunFile>;
    for (const name of ADDED_LATER) delete older[name as keyof RunFile];
    expect(problems(older)).toBe('');
  });

  it('refuses an explain section whose parts are not rtla\'s', () => {
    const run = fullRun();
    const wakeup = { ...run.explain!.wakeups[0]!, segments: [{ part: 'gremlins', offsetNs: 0, ns: 1, culprit: null }] };
    expect(problems({ ...run, explain: { ...run.explain!, wakeups: [wakeup] } })).toMatch(/explain\/wakeups\/0\/segments\/0\/part must be equal to one of the allowed values/);
  });

  it('accepts the imports of run.json and run-histogram.json', () => {
    for (const name of ['run.json', 'run-histogram.json']) {
      expect(problems(importCyclictestJson(fixture(name), { rtlatVersion: '0.1.0' })), name).toBe('');
    }
  });

  it('accepts hand-built runs: summary, histogram, and every nullable part filled', () => {
    expect(problems(summaryFixtureRun())).toBe('');
    expect(problems(histogramFixtureRun())).toBe('');
    expect(problems(fullRun())).toBe('');
  });

  it('refuses a missing field, an unknown field, a wrong unit of type and a bad enum', () => {
    const missing = fullRun() as Partial<RunFile>;
    delete missing.spikesOmitted;
    expect(problems(missing)).toMatch(/must have required property 'spikesOmitted'/);
    expect(problems({ ...fullRun(), extra: 1 })).toMatch(/must NOT have additional properties/);
    const thread = { ...fullRun().threads[0]!, count: 1.5 };
    expect(problems({ ...fullRun(), threads: [thread] })).toMatch(/threads\/0\/count must be integer/);
    expect(problems({ ...fullRun(), stoppedBy: 'crashed' })).toMatch(/stoppedBy must be equal to one of the allowed values/);
    expect(problems({ ...fullRun(), schemaVersion: 2 })).toMatch(/schemaVersion must be equal to constant/);
    expect(problems({ ...fullRun(), startTime: 'yesterday' })).toMatch(/startTime must match format "date-time"/);
  });
});

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('a measured run (needs root for SCHED_FIFO: run the tests as root, as CI does)', () => {
  it('validates, with its microsecond histogram and spikes', async () => {
    const spikes: RunFile['spikes'] = [];
    const probe = new Probe({ periodNs: 500_000, loops: 200, cpus: [0], histogramMaxUs: 50, spikeThresholdNs: 1, keepProcessAlive: true }, {
      onSpike: (spike) => spikes.length < 5 && spikes.push(spike),
    });
    probe.start();
    await probe.finished;
    const run = runFileFromProbe(await probe.stop(), { rtlatVersion: '0.1.0', commandLine: 'rtlat measure', environment: null, during: null, spikes, spikesOmitted: 0 });
    expect(run.threads[0]!.microsecondHistogram).not.toBeNull();
    expect(problems(run)).toBe('');
  });
});
