// The fingerprint for people: a one-line label for result headers and the text `rtlat info` prints.
import { formatCpuList, formatDuration, NS_PER_US } from '../units.js';
import type { Field } from './field.js';
import type { Fingerprint } from './index.js';

/** "guest kvm / PREEMPT_DYNAMIC (full)", "host / PREEMPT_RT", "container podman on guest kvm (firecracker) / PREEMPT_DYNAMIC". */
export function describeEnvironment(fp: Fingerprint): string {
  const { virtualization: v, kernel } = fp;
  let guest = 'guest (unknown hypervisor)';
  if (v.xenDomain?.value === 'dom0') {
    guest = 'xen dom0';
  } else if (v.hypervisor.value !== null) {
    guest = `guest ${v.hypervisor.value}`;
    if (v.technology.value !== null && v.technology.value !== v.hypervisor.value) guest += ` (${v.technology.value})`;
    if (v.xenGuestType.value !== null) guest += ` ${v.xenGuestType.value}`;
  }
  const container = `container ${v.containerTechnology.value ?? '(unknown)'}`;
  const where = v.role === 'host' ? 'host' : v.role === 'vm' ? guest : v.role === 'container' ? container : `${container} on ${guest}`;

  let preemption: string = kernel.preemption.value ?? 'preemption unknown';
  // Only debugfs gives the current mode; a boot-time mode could have been changed since, so the label leaves it out.
  const mode = kernel.preemptDynamicMode;
  if (kernel.preemption.value === 'PREEMPT_DYNAMIC' && mode.value !== null && mode.source.startsWith('/sys/kernel/debug/')) preemption += ` (${mode.value})`;
  return `${where} / ${preemption}`;
}

const LABELS: Record<string, string> = {
  release: 'release',
  version: 'version',
  preemption: 'preemption',
  preemptDynamicMode: 'preempt mode',
  hz: 'HZ',
  noHz: 'NO_HZ',
  commandLine: 'command line',
  technology: 'technology',
  hypervisor: 'hypervisor',
  xenGuestType: 'Xen guest type',
  xenDomain: 'Xen domain',
  containerTechnology: 'container',
  cpuHypervisorFlag: 'CPU hypervisor flag',
  cpuidVendor: 'CPUID vendor',
  dmi: 'DMI',
  acpiOemId: 'ACPI OEM ID',
  systemdDetectVirt: 'systemd-detect-virt',
  clocksource: 'clocksource',
  availableClocksources: 'available clocksources',
  clockevent: 'clockevent',
  rtRuntimeUs: 'RT runtime',
  rtPeriodUs: 'RT period',
  timerSlackNs: 'timer slack',
  guestHaltPoll: 'guest haltpoll',
  kvmHaltPollNs: 'KVM halt_poll_ns',
  xenTimerSlopNs: 'Xen timer slop',
  modelName: 'model',
  online: 'online',
  isolated: 'isolated',
  nohzFull: 'nohz_full',
  rcuNocbs: 'rcu_nocbs',
  smtControl: 'SMT control',
  smtActive: 'SMT active',
  cpufreqGovernors: 'cpufreq governors',
  cpuidleDriver: 'cpuidle driver',
  cpuidleGovernor: 'cpuidle governor',
  cpuidleStates: 'cpuidle states',
};

const LABEL_WIDTH = 24;

function isField(value: unknown): value is Field<unknown> {
  return typeof value === 'object' && value !== null && 'value' in value && ('source' in value || 'reason' in value);
}

/** Keys carry units (periodNs, rtRuntimeUs): a value is shown in the unit that reads best. */
function formatScalar(key: string, value: unknown): string {
  if (typeof value === 'number') {
    if (key === 'rtRuntimeUs' && value === -1) return 'unlimited (-1: RT tasks are never throttled)';
    if (key.endsWith('Ns') && value >= 0) return formatDuration(value);
    if (key.endsWith('Us') && value >= 0) return formatDuration(value * NS_PER_US);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (value === null || value === undefined) return '-';
  return String(value);
}

function formatValue(key: string, value: unknown): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '(none)';
    if (value.every((item) => typeof item === 'number')) return formatCpuList(value as number[]);
    if (value.every((item) => typeof item === 'string')) return value.join(' ');
    return value.map((item) => formatValue(key, item)).join(', ');
  }
  if (key === 'cpufreqGovernors' && typeof value === 'object' && value !== null) {
    const byGovernor = new Map<string, number[]>();
    for (const [cpu, governor] of Object.entries(value as Record<string, string>)) byGovernor.set(governor, [...(byGovernor.get(governor) ?? []), Number(cpu)]);
    return [...byGovernor].map(([governor, cpus]) => `${governor} on ${formatCpuList(cpus)}`).join(', ');
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, item]) => item !== null);
    // A cpuidle state reads best as "name (latency)".
    if ('name' in value && 'latencyUs' in value) {
      const state = value as { name: string; latencyUs: number | null; disabled: boolean | null };
      const notes = [state.latencyUs === null ? null : `exit ${formatDuration(state.latencyUs * NS_PER_US)}`, state.disabled ? 'disabled' : null].filter((note) => note !== null);
      return notes.length > 0 ? `${state.name} (${notes.join(', ')})` : state.name;
    }
    return entries.map(([name, item]) => `${name}=${formatScalar(name, item)}`).join(' ');
  }
  return formatScalar(key, value);
}

function formatSection(title: string, section: object): string[] {
  const lines = [title];
  for (const [key, item] of Object.entries(section)) {
    const label = (LABELS[key] ?? key).padEnd(LABEL_WIDTH);
    if (isField(item)) {
      if (item.value === null) lines.push(`  ${label}-  (${(item as { reason: string }).reason})`);
      else lines.push(`  ${label}${formatValue(key, item.value)}  (${(item as { source: string }).source})`);
    } else if (Array.isArray(item)) {
      if (item.length === 0) continue;
      lines.push(`  ${(LABELS[key] ?? key.replace(/Evidence$/, ' evidence')).padEnd(LABEL_WIDTH)}${String(item[0])}`);
      for (const line of item.slice(1)) lines.push(`  ${''.padEnd(LABEL_WIDTH)}${String(line)}`);
    } else if (key !== 'vm' && key !== 'container') {
      // vm and container are summed up by role.
      lines.push(`  ${label}${formatScalar(key, item)}`);
    }
  }
  return lines;
}

/** The whole fingerprint as text: every field with its value and where it came from, or why it is missing. */
export function formatFingerprint(fp: Fingerprint): string {
  return [
    `environment: ${describeEnvironment(fp)}  (fingerprint schema ${fp.schemaVersion})`,
    '',
    ...formatSection('kernel', fp.kernel),
    '',
    ...formatSection('virtualization', fp.virtualization),
    '',
    ...formatSection('timing', fp.timing),
    '',
    ...formatSection('cpus', fp.cpus),
    '',
  ].join('\n');
}
