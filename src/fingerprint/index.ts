// The environment fingerprint: what a latency result needs to be read against (kernel, hypervisor,
// container, timer and idle settings, CPU isolation). Synchronous and never throwing, so every result
// file can carry one; each value names its source, each missing one its reason.
import { readKernelCommandLine } from './cmdline.js';
import { readCpus, type CpuFingerprint } from './cpus.js';
import { SystemFiles } from './field.js';
import { readKernel, type KernelFingerprint } from './kernel.js';
import { readTiming, type TimingFingerprint } from './timing.js';
import { readVirtualization, type VirtualizationFingerprint } from './virtualization.js';

export interface Fingerprint {
  /** Bumped when a field changes meaning or shape, so old result files stay readable. */
  schemaVersion: 1;
  kernel: KernelFingerprint;
  virtualization: VirtualizationFingerprint;
  timing: TimingFingerprint;
  cpus: CpuFingerprint;
}

export interface FingerprintOptions {
  /** Prefixed to every /proc, /sys, /boot and /run path read, so a fixture tree can stand in for a machine (default '/'). */
  root?: string;
}

export function readFingerprint(options: FingerprintOptions = {}): Fingerprint {
  const files = new SystemFiles(options.root ?? '/');
  const cmdline = readKernelCommandLine(files);
  const virtualization = readVirtualization(files);
  return {
    schemaVersion: 1,
    kernel: readKernel(files, cmdline),
    virtualization,
    timing: readTiming(files, cmdline, virtualization.hypervisor.value === 'xen'),
    cpus: readCpus(files, cmdline),
  };
}

export { describeEnvironment, formatFingerprint } from './describe.js';
export { diffCpuCounters, readCpuCounters, USER_HZ } from './counters.js';
export type { CpuCounterName, CpuCounters, CpuCountersDelta, CpuCounterValues } from './counters.js';
export type { Field, KnownField, UnknownField } from './field.js';
export type { KernelFingerprint, NoHzMode, PreemptDynamicMode, PreemptionModel } from './kernel.js';
export type { DetectVirtAnswer, DmiStrings, Hypervisor, Role, VirtualizationFingerprint, VmTechnology, XenGuestType } from './virtualization.js';
export type { GuestHaltPoll, TimingFingerprint } from './timing.js';
export type { CpuFingerprint, CpuidleState } from './cpus.js';
