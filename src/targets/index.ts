// Where rtlat measures besides this machine: QEMU guests, Xen domUs (from Dom0), containers, and the
// emulated lab hosts that run rtlat commands. What the commands and the measurement layer use of them;
// the rest of targets/ is theirs.
export { DEFAULT_BOOT_TIMEOUT_MS, DEFAULT_MEMORY_MIB, DEFAULT_VCPUS, findQemu, runGuest, type GuestOptions, type GuestResult } from './guest/guest.js';
export { parseExtraFile, type ExtraFile } from './guest/initramfs.js';
export { checkKernelImage } from './guest/kernel-image.js';
export { CONTAINER_OUT_DIR, runContainer, type ContainerOutcome, type ContainerRun } from './container/container.js';
export { XEN_GUEST_TYPES, type XenGuestType } from './xen/config.js';
export { runXenGuest, startDom0Load, xenGuestOptions, type XenGuestOptions } from './xen/run.js';
export { LAB_HOST_KINDS, type LabHostKind } from './lab/hosts.js';
export { DEFAULT_LAB_BOOT_TIMEOUT_MS, DEFAULT_LAB_CPUS, DEFAULT_LAB_MEMORY_MIB, runLab, type ForwardedSignal, type LabOptions, type LabResult } from './lab/run.js';
