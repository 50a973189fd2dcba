// Where the kernel runs (bare metal or a guest, and under which hypervisor) and whether this process
// is in a container. Latencies in a guest include the host's scheduling of the vCPU; a result must say so.
//
// The hypervisor's CPUID vendor signature ("KVMKVMKVM", "XenVMMXenVMM", "Microsoft Hv", "TCGTCGTCGTCG", ...)
// is the most direct witness; the addon reads it, on the live system only.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { type Field, isKnown, known, mapField, type SystemFiles, unknown } from './field.js';
import { loadAddon } from '../engine/native.js';
import { readAvailableClocksources } from './timing.js';

export type Role = 'host' | 'vm' | 'container' | 'vm+container';
/** The hypervisor, or the VMM where it is known more precisely (Firecracker runs on KVM). */
export type VmTechnology = 'kvm' | 'firecracker' | 'xen' | 'qemu-tcg' | 'vmware' | 'hyperv' | 'virtualbox';
export type Hypervisor = Exclude<VmTechnology, 'firecracker'>;
export type XenGuestType = 'pv' | 'pvh' | 'hvm';

export interface DmiStrings {
  sysVendor: string | null;
  productName: string | null;
  biosVendor: string | null;
}

export interface DetectVirtAnswer {
  vm: string;
  container: string;
}

export interface VirtualizationFingerprint {
  role: Role;
  vm: boolean;
  container: boolean;
  /** The most precise name known: 'firecracker' where its ACPI tables say so, else the hypervisor. */
  technology: Field<VmTechnology>;
  hypervisor: Field<Hypervisor>;
  xenGuestType: Field<XenGuestType>;
  /** Xen's control domain (Dom0: /proc/xen/capabilities says control_d) or a domU; absent in fingerprints written before it existed. */
  xenDomain?: Field<'dom0' | 'domU'>;
  /** docker, podman, lxc, systemd-nspawn, kubernetes, or what PID 1's container= says. */
  containerTechnology: Field<string>;
  /** The "hypervisor" CPU flag (x86), which every mainstream hypervisor sets. */
  cpuHypervisorFlag: Field<boolean>;
  /** CPUID leaf 0x40000000's vendor signature, e.g. "KVMKVMKVM" (read through the addon, live only). */
  cpuidVendor: Field<string>;
  dmi: Field<DmiStrings>;
  /** The OEM ID in the firmware's ACPI tables (e.g. "FIRECK" for Firecracker); readable by root only. */
  acpiOemId: Field<string>;
  /** What systemd-detect-virt says, as a cross-check; never used to decide. */
  systemdDetectVirt: Field<DetectVirtAnswer>;
  /** Each observation that decided vm and technology, in words. */
  vmEvidence: string[];
  /** Each observation about containers, including markers that were set aside and why. */
  containerEvidence: string[];
}

const DMI_DIR = '/sys/class/dmi/id';
const CLOCKSOURCES_FILE = '/sys/devices/system/clocksource/clocksource0/available_clocksource';
const FIRECRACKER_ACPI_OEM_ID = 'FIRECK';

function readCpuHypervisorFlag(files: SystemFiles): Field<boolean> {
  return mapField(files.text('/proc/cpuinfo'), (text, source) => {
    const flags = /^flags\s*:(.*)$/m.exec(text);
    if (!flags) return unknown(`${source} has no "flags" line (not x86)`);
    return known(flags[1]!.split(/\s+/).includes('hypervisor'), `${source}: flags`);
  });
}

function readDmi(files: SystemFiles): Field<DmiStrings> {
  const read = (name: string): string | null => files.trimmed(`${DMI_DIR}/${name}`).value;
  const dmi = { sysVendor: read('sys_vendor'), productName: read('product_name'), biosVendor: read('bios_vendor') };
  if (dmi.sysVendor !== null || dmi.productName !== null || dmi.biosVendor !== null) return known(dmi, DMI_DIR);
  return files.exists(DMI_DIR) ? unknown(`${DMI_DIR} has no readable sys_vendor, product_name or bios_vendor`) : unknown(`${DMI_DIR} is absent: the firmware provides no SMBIOS/DMI tables`);
}

/** Bytes 10-15 of any ACPI table header hold the OEM ID. */
function readAcpiOemId(files: SystemFiles): Field<string> {
  const reasons: string[] = [];
  for (const table of ['DSDT', 'FACP']) {
    const bytes = files.bytes(`/sys/firmware/acpi/tables/${table}`);
    if (!isKnown(bytes)) {
      reasons.push(bytes.reason);
      continue;
    }
    if (bytes.value.length < 16) {
      reasons.push(`${bytes.source} is shorter than an ACPI table header`);
      continue;
    }
    return known(bytes.value.subarray(10, 16).toString('latin1').replace(/[\0 ]+$/, ''), `${bytes.source}: OEM ID`);
  }
  return unknown(reasons.join('; '));
}

function readXenDomain(files: SystemFiles, isXen: boolean): Field<'dom0' | 'domU'> {
  if (!isXen) return unknown('not a Xen guest');
  const capabilities = files.trimmed('/proc/xen/capabilities');
  if (capabilities.value?.split(/[\s,]+/).includes('control_d')) return known('dom0', `${capabilities.source}: control_d`);
  return known('domU', isKnown(capabilities) ? `${capabilities.source}: no control_d` : `${capabilities.reason} (Dom0 has it: its tools need xenfs)`);
}

function readXenGuestType(files: SystemFiles, isXen: boolean): Field<XenGuestType> {
  if (!isXen) return unknown('not a Xen guest');
  return mapField(files.trimmed('/sys/hypervisor/guest_type'), (text, source) => {
    const type = text.toLowerCase();
    return type === 'pv' || type === 'pvh' || type === 'hvm' ? known(type, source) : unknown(`${source} says ${JSON.stringify(text)}`);
  });
}

// Signatures hypervisors put in CPUID leaf 0x40000000.
const CPUID_VENDORS: Record<string, Hypervisor> = {
  KVMKVMKVM: 'kvm',
  XenVMMXenVMM: 'xen',
  'Microsoft Hv': 'hyperv',
  VMwareVMware: 'vmware',
  VBoxVBoxVBox: 'virtualbox',
  // QEMU without KVM: every instruction emulated, so its latencies are not a hypervisor's.
  TCGTCGTCGTCG: 'qemu-tcg',
};

const CPUID_SOURCE = 'CPUID leaf 0x40000000';

function readCpuidVendor(files: SystemFiles): Field<string> {
  if (files.root !== '/') return unknown('CPUID describes this machine, not the tree at the given root');
  try {
    const vendor = loadAddon().hypervisorVendor();
    return vendor === null ? unknown('the CPU reports no hypervisor (CPUID leaf 1, ECX bit 31)') : known(vendor, CPUID_SOURCE);
  } catch (error) {
    return unknown(`CPUID not read: ${(error as Error).message}`);
  }
}

interface VmVerdict {
  hypervisor: Field<Hypervisor>;
  evidence: string[];
}

/** The first witness that names a hypervisor wins; the order goes from the kernel's own word to firmware strings. */
function identifyHypervisor(files: SystemFiles, dmi: Field<DmiStrings>, cpuidVendor: Field<string>): VmVerdict {
  const evidence: string[] = [];
  // The kernel's own word first: a Xen PV guest (Dom0 included) sees the CPU's own CPUID unless Xen traps
  // it, so under nested virtualization CPUID names what runs Xen, not Xen.
  const hypervisorType = files.trimmed('/sys/hypervisor/type');
  if (hypervisorType.value === 'xen') {
    const capabilities = files.trimmed('/proc/xen/capabilities');
    if (capabilities.value?.includes('control_d')) evidence.push(`Xen dom0 (${capabilities.source}: control_d): its vCPUs are still scheduled by Xen`);
    evidence.push(`${hypervisorType.source} = xen`);
    if (isKnown(cpuidVendor) && cpuidVendor.value !== 'XenVMMXenVMM') {
      evidence.push(`CPUID hypervisor vendor "${cpuidVendor.value}" (${CPUID_VENDORS[cpuidVendor.value] ?? 'unknown'}): Xen itself runs in a virtual machine`);
    }
    return { hypervisor: known('xen', hypervisorType.source), evidence };
  }
  const byVendor = isKnown(cpuidVendor) ? CPUID_VENDORS[cpuidVendor.value] : undefined;
  if (byVendor) {
    evidence.push(`CPUID hypervisor vendor "${cpuidVendor.value}"`);
    return { hypervisor: known(byVendor, `${CPUID_SOURCE}: ${cpuidVendor.value}`), evidence };
  }

  // A guest kernel registers the hypervisor's paravirtual clock; a host never lists one.
  const clocksources = readAvailableClocksources(files).value ?? [];
  const byClock: [string, Hypervisor][] = [['kvm-clock', 'kvm'], ['xen', 'xen'], ['hyperv_clocksource_tsc_page', 'hyperv'], ['hyperv_clocksource_msr', 'hyperv']];
  for (const [clock, hypervisor] of byClock) {
    if (clocksources.includes(clock)) {
      evidence.push(`${clock} in ${CLOCKSOURCES_FILE}`);
      return { hypervisor: known(hypervisor, `${CLOCKSOURCES_FILE}: ${clock}`), evidence };
    }
  }
  if (files.exists('/sys/bus/vmbus')) {
    evidence.push('/sys/bus/vmbus exists (Hyper-V VMBus)');
    return { hypervisor: known('hyperv', '/sys/bus/vmbus'), evidence };
  }

  if (isKnown(dmi)) {
    const { sysVendor, productName, biosVendor } = dmi.value;
    const strings = [sysVendor, productName, biosVendor].filter((value): value is string => value !== null).join(' | ');
    const byDmi: [RegExp, Hypervisor][] = [
      [/VMware/i, 'vmware'],
      [/Microsoft Corporation.*Virtual Machine/i, 'hyperv'],
      [/innotek|VirtualBox/i, 'virtualbox'],
      [/^Xen\b|HVM domU/i, 'xen'],
      [/\bKVM\b|Amazon EC2|Google Compute Engine/i, 'kvm'],
      // QEMU without KVM's paravirtual clock (checked above): TCG emulation, or KVM booted with no-kvmclock.
      [/QEMU/i, 'qemu-tcg'],
    ];
    for (const [pattern, hypervisor] of byDmi) {
      if (pattern.test(strings)) {
        evidence.push(`DMI: ${strings}`);
        return { hypervisor: known(hypervisor, `${dmi.source}: ${strings}`), evidence };
      }
    }
  }
  return { hypervisor: unknown('no paravirtual clock, /sys/hypervisor, VMBus or DMI string names a hypervisor'), evidence };
}

function identifyTechnology(files: SystemFiles, hypervisor: Field<Hypervisor>, dmi: Field<DmiStrings>, acpiOemId: Field<string>, evidence: string[]): Field<VmTechnology> {
  if (hypervisor.value !== 'kvm') return hypervisor;
  // Firecracker writes its own ACPI tables (OEM ID "FIRECK") and no SMBIOS, so there is no DMI to name it.
  if (acpiOemId.value === FIRECRACKER_ACPI_OEM_ID) {
    evidence.push(`ACPI OEM ID ${FIRECRACKER_ACPI_OEM_ID} (${acpiOemId.source}): Firecracker's tables`);
    if (!isKnown(dmi)) evidence.push(dmi.reason);
    return known('firecracker', acpiOemId.source);
  }
  // Without readable ACPI tables (not root, or an older Firecracker without ACPI) a microVM shows only by
  // what it lacks; QEMU's microvm machine looks the same, so this stays a note rather than a verdict.
  const cmdline = files.text('/proc/cmdline').value ?? '';
  if (!isKnown(dmi) && cmdline.includes('virtio_mmio.device=')) {
    evidence.push('no DMI and virtio_mmio.device= on the kernel command line: a microVM (Firecracker or QEMU microvm)');
  }
  return hypervisor;
}

/** Known container managers by a word in a cgroup path. */
const CGROUP_PATTERNS: [RegExp, string][] = [
  [/\/docker[/-]/, 'docker'],
  [/libpod/, 'podman'],
  [/\/lxc[/.]|lxc\.payload/, 'lxc'],
  [/machine\.slice\/machine-/, 'systemd-nspawn'],
  [/kubepods/, 'kubernetes'],
];

function normalizeContainerName(name: string): string {
  if (name === 'lxc-libvirt') return 'lxc';
  return name;
}

interface ContainerMarker {
  technology: string;
  source: string;
}

function findContainerMarker(files: SystemFiles): ContainerMarker | null {
  // PID 1's environment is what systemd-nspawn, LXC and podman set for the container's init.
  const environ = files.bytes('/proc/1/environ');
  if (isKnown(environ)) {
    const entry = environ.value.toString('utf8').split('\0').find((variable) => variable.startsWith('container='));
    if (entry !== undefined && entry.length > 'container='.length) return { technology: normalizeContainerName(entry.slice('container='.length)), source: `${environ.source}: ${entry}` };
  }
  for (const file of ['/run/systemd/container', '/run/host/container-manager']) {
    const manager = files.trimmed(file);
    if (isKnown(manager) && manager.value !== '') return { technology: normalizeContainerName(manager.value), source: manager.source };
  }
  if (files.exists('/run/.containerenv')) return { technology: 'podman', source: '/run/.containerenv' };
  if (files.exists('/.dockerenv')) return { technology: 'docker', source: '/.dockerenv' };
  for (const file of ['/proc/self/cgroup', '/proc/1/cgroup']) {
    const cgroups = files.text(file).value;
    if (cgroups === null) continue;
    for (const [pattern, technology] of CGROUP_PATTERNS) if (pattern.test(cgroups)) return { technology, source: `${file}: ${pattern.source}` };
  }
  return null;
}

interface ContainerVerdict {
  container: boolean;
  technology: Field<string>;
  evidence: string[];
}

function identifyContainer(files: SystemFiles): ContainerVerdict {
  const marker = findContainerMarker(files);
  if (marker === null) return { container: false, technology: unknown('no container marker (PID 1 container=, /run/.containerenv, /.dockerenv, cgroup path)'), evidence: [] };
  const evidence = [`${marker.source} (${marker.technology})`];
  // A marker file can outlive its container: a VM's root filesystem built from a Docker image keeps
  // /.dockerenv. Containers get their own PID namespace, so seeing kthreadd as PID 2 means we are not in one,
  // unless PID 1 lives in another mount namespace (docker --pid=host --privileged).
  const inInitPidNamespace = files.trimmed('/proc/2/comm').value === 'kthreadd';
  if (inInitPidNamespace) {
    const ownMounts = files.link('/proc/self/ns/mnt');
    const initMounts = files.link('/proc/1/ns/mnt');
    if (isKnown(ownMounts) && isKnown(initMounts) && ownMounts.value !== initMounts.value) {
      evidence.push(`PID 1 is the host's (/proc/2 is kthreadd) but its mount namespace differs from ours: a container sharing the host's PIDs`);
      return { container: true, technology: known(marker.technology, marker.source), evidence };
    }
    evidence.push('set aside: /proc/2 is kthreadd, so this process is in the kernel\'s initial PID namespace (the marker is likely left from the image the root filesystem was built from)');
    return { container: false, technology: unknown(`a marker (${marker.source}) exists but this process is in the initial PID namespace`), evidence };
  }
  return { container: true, technology: known(marker.technology, marker.source), evidence };
}

function runDetectVirt(files: SystemFiles): Field<DetectVirtAnswer> {
  if (path.resolve(files.root) !== '/') return unknown(`not run: the root is ${files.root}, not this machine`);
  const ask = (flag: string): string | Error => {
    const result = spawnSync('systemd-detect-virt', [flag], { encoding: 'utf8', timeout: 5_000 });
    if (result.error) return result.error;
    // It exits 1 with "none" when it finds nothing; both are answers.
    return result.stdout.trim() || `exit status ${result.status}`;
  };
  const vm = ask('--vm');
  if (vm instanceof Error) {
    const code = (vm as NodeJS.ErrnoException).code;
    return unknown(code === 'ENOENT' ? 'systemd-detect-virt is not on PATH' : `systemd-detect-virt failed: ${vm.message}`);
  }
  const container = ask('--container');
  return known({ vm, container: container instanceof Error ? `failed: ${container.message}` : container }, 'systemd-detect-virt --vm, --container');
}

export function readVirtualization(files: SystemFiles): VirtualizationFingerprint {
  const cpuHypervisorFlag = readCpuHypervisorFlag(files);
  const dmi = readDmi(files);
  const acpiOemId = readAcpiOemId(files);
  const cpuidVendor = readCpuidVendor(files);
  const { hypervisor, evidence: vmEvidence } = identifyHypervisor(files, dmi, cpuidVendor);
  const technology = identifyTechnology(files, hypervisor, dmi, acpiOemId, vmEvidence);
  if (cpuHypervisorFlag.value === true) vmEvidence.unshift(`CPU flag "hypervisor" (${cpuHypervisorFlag.source})`);
  const vm = cpuHypervisorFlag.value === true || isKnown(hypervisor);
  const { container, technology: containerTechnology, evidence: containerEvidence } = identifyContainer(files);
  const role: Role = vm && container ? 'vm+container' : vm ? 'vm' : container ? 'container' : 'host';
  return {
    role,
    vm,
    container,
    technology: vm ? technology : unknown('not a virtual machine'),
    hypervisor: vm ? hypervisor : unknown('not a virtual machine'),
    xenGuestType: readXenGuestType(files, hypervisor.value === 'xen'),
    xenDomain: readXenDomain(files, hypervisor.value === 'xen'),
    containerTechnology,
    cpuHypervisorFlag,
    cpuidVendor,
    dmi,
    acpiOemId,
    systemdDetectVirt: runDetectVirt(files),
    vmEvidence,
    containerEvidence,
  };
}
