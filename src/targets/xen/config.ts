// The xl configuration of an rtlat domU (xl.cfg(5)): one measuring guest that powers off when done and
// is destroyed then, whatever happens (on_poweroff, on_reboot and on_crash: destroy). PV and PVH guests
// get their image as the ramdisk, which Xen's domain builder loads at once. An HVM guest's firmware
// loads the ramdisk through QEMU's fw_cfg a byte at a time (minutes for rtlat's image under TCG), so it
// gets a small one that unpacks the image from a PV disk the device model serves (backendtype=qdisk).
export const XEN_GUEST_TYPES = ['pv', 'pvh', 'hvm'] as const;
export type XenGuestType = (typeof XEN_GUEST_TYPES)[number];

/** The disk an HVM guest unpacks its image from: past xvdd, so QEMU emulates no IDE disk for it. */
export const IMAGE_DISK = 'xvde';

export interface XlConfigOptions {
  name: string;
  type: XenGuestType;
  kernel: string;
  ramdisk: string;
  /** The kernel's command line. */
  commandLine: string;
  memoryMiB: number;
  vcpus: number;
  /** The physical CPU of each vCPU (vCPU i on the i-th); null: unpinned. */
  pinVcpus: readonly number[] | null;
  /** HVM: the image the small ramdisk unpacks; null: all of it in the ramdisk. */
  imageDisk: string | null;
  /**
   * Xen runs on an emulated CPU (QEMU's TCG): PVH and HVM guests need the TSC read natively and no
   * XSAVE in their CPUID, or they stop early in boot.
   */
  emulatedCpu: boolean;
}

function quoted(value: string): string {
  if (/["\\\n]/.test(value)) throw new Error(`an xl configuration value cannot hold quotes, backslashes or newlines: ${value}`);
  return `"${value}"`;
}

export function xlConfig(options: XlConfigOptions): string {
  const lines: [string, string][] = [
    ['name', quoted(options.name)],
    ['type', quoted(options.type)],
    ['kernel', quoted(options.kernel)],
    ['ramdisk', quoted(options.ramdisk)],
    // PV and PVH take the kernel's command line as "extra", HVM's direct boot as "cmdline".
    [options.type === 'hvm' ? 'cmdline' : 'extra', quoted(options.commandLine)],
    ['memory', `${options.memoryMiB}`],
    ['maxmem', `${options.memoryMiB}`],
    ['vcpus', `${options.vcpus}`],
  ];
  if (options.pinVcpus?.length) {
    const cpus = Array.from({ length: options.vcpus }, (_, vcpu) => quoted(`${options.pinVcpus![vcpu % options.pinVcpus!.length]}`));
    lines.push(['cpus', `[${cpus.join(', ')}]`]);
  }
  if (options.emulatedCpu && options.type !== 'pv') lines.push(['tsc_mode', quoted('native')], ['cpuid', quoted('host,xsave=0')]);
  if (options.type === 'hvm') {
    lines.push(['device_model_version', quoted('qemu-xen')], ['vga', quoted('none')], ['vnc', '0'], ['sdl', '0'], ['nographic', '1'], ['serial', quoted('none')]);
    if (options.imageDisk !== null) lines.push(['disk', `[${quoted(`format=raw,vdev=${IMAGE_DISK},backendtype=qdisk,target=${options.imageDisk}`)}]`]);
  }
  lines.push(['on_poweroff', quoted('destroy')], ['on_reboot', quoted('destroy')], ['on_crash', quoted('destroy')]);
  return lines.map(([key, value]) => `${key} = ${value}\n`).join('');
}
