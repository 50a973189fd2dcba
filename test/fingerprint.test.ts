// The fingerprint of the machine the tests run on, and of no machine at all (an empty root).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeEnvironment, formatFingerprint, readFingerprint } from '../src/fingerprint/index.js';
import { expectWellFormed, fieldsOf } from './helpers/fingerprint.js';

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

const clocksources = readOr('/sys/devices/system/clocksource/clocksource0/available_clocksource', '');
const onKvmGuest = /\bhypervisor\b/.test(readOr('/proc/cpuinfo', '')) && clocksources.split(/\s+/).includes('kvm-clock');

describe('the fingerprint of this machine', () => {
  const fp = readFingerprint();

  it('is well formed: every field has a value and a source, or a reason', () => {
    expect(fp.schemaVersion).toBe(1);
    expectWellFormed(fp);
  });

  it('reads the clocksource the kernel reports, from the file it is in', () => {
    const file = '/sys/devices/system/clocksource/clocksource0/current_clocksource';
    expect(fp.timing.clocksource).toEqual({ value: readFileSync(file, 'utf8').trim(), source: file });
    expect(fp.timing.availableClocksources.value).toEqual(clocksources.trim().split(/\s+/));
  });

  it('reads the kernel release uname reports', () => {
    expect(fp.kernel.release.value).toBe(os.release());
  });

  it('survives JSON, as a result file embeds it', () => {
    expect(JSON.parse(JSON.stringify(fp))).toEqual(fp);
  });

  it('formats every field, with its source or its reason', () => {
    const text = formatFingerprint(fp);
    expect(text.split('\n')[0]).toBe(`environment: ${describeEnvironment(fp)}  (fingerprint schema 1)`);
    for (const [, field] of fieldsOf(fp)) expect(text).toContain(String(field.value === null ? field.reason : field.source));
  });

  it('records what systemd-detect-virt says, or why it could not', () => {
    const answer = fp.virtualization.systemdDetectVirt;
    if (answer.value !== null) expect(answer.value.vm).toMatch(/\S/);
    else expect(answer.reason).toMatch(/systemd-detect-virt/);
  });
});

describe.runIf(onKvmGuest)('on a KVM guest, such as the development machine (a Firecracker microVM)', () => {
  const fp = readFingerprint();
  const v = fp.virtualization;

  it('is a vm under kvm; firecracker where its ACPI tables say so', () => {
    expect(v.vm).toBe(true);
    expect(v.role === 'vm' || v.role === 'vm+container').toBe(true);
    expect(v.hypervisor.value).toBe('kvm');
    expect(['kvm', 'firecracker']).toContain(v.technology.value);
    expect(v.technology.value === 'firecracker').toBe(v.acpiOemId.value === 'FIRECK');
    expect(describeEnvironment(fp)).toMatch(/guest kvm/);
  });

  it('reads the hypervisor\'s own CPUID signature, and only on the live system', () => {
    expect(v.cpuidVendor).toEqual({ value: 'KVMKVMKVM', source: 'CPUID leaf 0x40000000' });
    expect(v.hypervisor).toEqual({ value: 'kvm', source: 'CPUID leaf 0x40000000: KVMKVMKVM' });
    const fixture = readFingerprint({ root: path.resolve(import.meta.dirname, 'fixtures/fingerprint/xen-hvm') });
    expect(fixture.virtualization.cpuidVendor.value).toBeNull();
  });

  it('is not taken for a container because of a /.dockerenv left in its root filesystem', () => {
    const initPidNamespace = readOr('/proc/2/comm', '').trim() === 'kthreadd';
    if (initPidNamespace) expect(v.role).toBe('vm');
  });
});

describe('the fingerprint of an empty root', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'rtlat-fingerprint-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('is all reasons and no exceptions', () => {
    const fp = readFingerprint({ root });
    expectWellFormed(fp);
    expect(fp.virtualization.role).toBe('host');
    expect(fp.virtualization.systemdDetectVirt.value).toBeNull();
    expect(fp.kernel.release).toEqual({ value: null, reason: '/proc/sys/kernel/osrelease is absent; /proc/version is absent' });
    expect(describeEnvironment(fp)).toBe('host / preemption unknown');
    expect(() => formatFingerprint(fp)).not.toThrow();
  });
});
