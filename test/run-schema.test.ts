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
/** Fields only some runs have: `lab` only for runs made in an rtlat lab host. */
const OPTIONAL = [...ADDED_LATER, 'lab'];

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
        threads: [{ tid: 4242, name: 'CPU 0/KVM', policy: 'fifo', priority: 90, cpus: [0], vcpu: 0 }],
      },
      lab: { host: 'kvm', accelerator: 'tcg', emulated: true, nesting: 'lab kvm/tcg > guest tcg', description: 'Linux 6.1.0-57-amd64 with KVM' },
      explain: handBuiltExplain(),
    },
  );
}

/** A run in a Xen HVM domU, measured from an emulated Dom0. */
function xenRun(): RunFile {
  return {
    ...fullRun(),
    guest: {
      hypervisor: 'xen',
      type: 'hvm',
      emulated: true,
      emulation: 'Xen runs in an rtlat lab host (lab xen/tcg)',
      xen: { version: '4.17.7', scheduler: 'credit2', pcpus: 2, commandLine: 'console=com1 dom0_mem=1536M,max:1536M' },
      domain: { name: 'rtlat-120-1-hvm', id: 3 },
      kernel: { path: '/cache/vmlinuz-cloud', release: '6.1.0-57-cloud-amd64' },
      vcpus: 1,
      memoryMiB: 512,
      vcpuCpus: [1],
      image: 'disk',
      deviceModel: { path: '/usr/libexec/xen-qemu-system-i386', pid: 170, priority: 99, threads: [{ tid: 171, name: 'xen-qemu-system', policy: 'fifo', priority: 99, cpus: [0] }] },
      dom0LoadCpus: [{ vcpu: 0, pcpu: 1 }],
      guestCommandLine: 'rtlat measure --period 1ms --duration 3s --json /tmp/run.json',
    },
    lab: { host: 'xen', accelerator: 'tcg', emulated: true, nesting: 'lab xen/tcg > domU hvm', description: 'Xen 4.17 with a Dom0 (Linux 6.1.0-57-amd64)' },
  };
}

describe('docs/run.schema.json', () => {
  it('is a valid draft 2020-12 schema of rtlat.run version 1', () => {
    expect(schema['$schema']).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schemaIsValid()).toBe(true);
  });

  it('names every field of a run file, and only those; all required but those added later and lab', () => {
    const properties = Object.keys(schema['properties'] as object).sort();
    expect(properties).toEqual(Object.keys(fullRun()).sort());
    expect((schema['required'] as string[]).slice().sort()).toEqual(properties.filter((name) => !OPTIONAL.includes(name)));
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
    const { lab: _lab, ...outsideALab } = fullRun();
    expect(problems(outsideALab)).toBe('');
  });

  it('accepts a Xen domU\'s guest block, and refuses one of an unknown type', () => {
    expect(problems(xenRun())).toBe('');
    const run = xenRun();
    expect(problems({ ...run, guest: { ...run.guest!, type: 'pvhvm' } })).toMatch(/guest\/type must be equal to one of the allowed values/);
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
