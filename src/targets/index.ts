// Where rtlat measures besides this machine: QEMU guests and containers. What the commands and the
// measurement layer use of them; the rest of targets/ is theirs.
export { DEFAULT_BOOT_TIMEOUT_MS, DEFAULT_MEMORY_MIB, DEFAULT_VCPUS, findQemu, runGuest, type GuestOptions, type GuestResult } from './guest/guest.js';
export { parseExtraFile, type ExtraFile } from './guest/initramfs.js';
export { checkKernelImage } from './guest/kernel-image.js';
export { CONTAINER_OUT_DIR, runContainer, type ContainerOutcome, type ContainerRun } from './container/container.js';
