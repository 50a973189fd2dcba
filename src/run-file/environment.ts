// What compare, matrix and report need from a run's environment: its fingerprint when it has one
// this rtlat reads, a label for people, the kernel kind (RT or not) and where it ran.
import { describeEnvironment, type Fingerprint } from '../fingerprint/index.js';
import type { RunFile } from './schema.js';
import { type RunInput, shortName } from './read.js';

/** The run's fingerprint, or null when it has none or one of a shape this rtlat does not read. */
export function fingerprintOf(environment: unknown): Fingerprint | null {
  if (typeof environment !== 'object' || environment === null) return null;
  const candidate = environment as Partial<Fingerprint>;
  const sections = [candidate.kernel, candidate.virtualization, candidate.timing, candidate.cpus];
  return candidate.schemaVersion === 1 && sections.every((section) => typeof section === 'object' && section !== null) ? (candidate as Fingerprint) : null;
}

export type KernelKind = 'RT' | 'NRT';

/** RT for a PREEMPT_RT kernel, NRT for any other model, null when the model is unknown. */
export function kernelKind(fingerprint: Fingerprint | null): KernelKind | null {
  const model = fingerprint?.kernel.preemption.value ?? null;
  if (model === null) return null;
  return model === 'PREEMPT_RT' ? 'RT' : 'NRT';
}

/** A guest's host kernel, from the run's hostEnvironment; null when the run does not carry one. */
export function hostKernelKind(run: RunFile): KernelKind | null {
  return kernelKind(fingerprintOf(run.hostEnvironment));
}

/** A short name for where a run was measured, without its kernel: "kvm", "xen pvh", "bare metal", "container docker". */
export function placeOf(fingerprint: Fingerprint): string {
  const v = fingerprint.virtualization;
  const hypervisor = v.xenDomain?.value === 'dom0' ? 'xen dom0' : [v.technology.value ?? 'unknown hypervisor', v.xenGuestType.value].filter((part) => part !== null).join(' ');
  const container = `container ${v.containerTechnology.value ?? '(unknown)'}`;
  switch (v.role) {
    case 'host':
      return 'bare metal';
    case 'vm':
      return hypervisor;
    case 'container':
      return container;
    case 'vm+container':
      return `${container} on ${hypervisor}`;
  }
}

/** A run with the label it is shown under. */
export interface LabeledRun extends RunInput {
  label: string;
}

/**
 * Labels runs with `labels` (one per run) or else with their environment ("guest kvm / PREEMPT_RT"),
 * or their file name when they have no fingerprint. Runs that would share a label get their file name added.
 */
export function labelRuns(inputs: readonly RunInput[], labels?: readonly string[]): LabeledRun[] {
  if (labels && labels.length !== inputs.length) throw new RangeError(`${labels.length} labels for ${inputs.length} runs`);
  const chosen = inputs.map(({ file, run }, index) => {
    const fingerprint = fingerprintOf(run.environment);
    return labels?.[index] ?? (fingerprint ? describeEnvironment(fingerprint) : shortName(file));
  });
  const uses = new Map<string, number>();
  for (const label of chosen) uses.set(label, (uses.get(label) ?? 0) + 1);
  return inputs.map((input, index) => {
    const label = chosen[index]!;
    if (uses.get(label) === 1 || label === shortName(input.file)) return { ...input, label };
    return { ...input, label: `${label} (${shortName(input.file)})` };
  });
}
