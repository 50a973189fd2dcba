// An HVM guest's image in two parts (config.ts says why): a small ramdisk with busybox, the guest kernel's
// block frontend (xen-blkfront, unless built in), this run's own files and a loader that unpacks rtlat's
// image from the PV disk and then runs its /init; and the disk, a copy of that image (the guest could
// write to it). Without a block frontend for the kernel, the whole image goes in the ramdisk (slow).
import { copyFileSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { binaryWithLibraries, GUEST_BUSYBOX, hostFile, type GuestFile } from '../guest/contents.js';
import { CONSOLE, findBusybox, script, withDirectories, writeArchive } from '../guest/initramfs.js';
import { KernelModules } from '../guest/modules.js';
import { IMAGE_DISK } from './config.js';

/** The kernel's rdinit=: the loader runs first, then the image's own /init. */
export const HVM_LOADER = '/rtlat/load';
const MODULES_DIR = '/rtlat/modules';
/** The PV disk appears once xenbus has connected it to the device model's backend. */
const DISK_WAIT_S = 60;

const BLOCK_FRONTEND = 'xen-blkfront';

const LOADER = `#!${GUEST_BUSYBOX} sh
# rtlat's HVM loader (src/targets/xen/hvm.ts): unpack the image from the PV disk, then run its /init.
${GUEST_BUSYBOX} --install -s /bin
mkdir -p /proc /dev
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
for module in ${MODULES_DIR}/*.ko; do
  [ -e "$module" ] && insmod "$module"
done
waited=0
while [ ! -b /dev/${IMAGE_DISK} ] && [ $waited -lt ${DISK_WAIT_S * 10} ]; do sleep 0.1; waited=$((waited + 1)); done
if [ ! -b /dev/${IMAGE_DISK} ]; then
  echo "rtlat: no /dev/${IMAGE_DISK} after ${DISK_WAIT_S}s: the guest kernel's xen-blkfront did not find the image's disk" >/dev/console
  poweroff -f
fi
# Without -u, cpio keeps what is already here: this run's own files win over the image's.
cpio -i -d </dev/${IMAGE_DISK} 2>/dev/null
umount /dev /proc
exec /init
`;

/** Where the guest kernel's modules are: the folder given, or /lib/modules/RELEASE. */
export function guestKernelModules(given: string | null, release: string | null): KernelModules | null {
  if (given !== null) return new KernelModules(given);
  return release === null ? null : new KernelModules(path.join('/lib/modules', release));
}

/** The block frontend's module files to load (none when built in), or null when the kernel has no way to reach the disk. */
export function blockFrontend(modules: KernelModules | null): string[] | null {
  if (modules === null || !modules.has(BLOCK_FRONTEND)) return null;
  return modules.loadOrder([BLOCK_FRONTEND]);
}

/** Writes the small ramdisk and the disk for an HVM guest into `dir`; returns their paths. */
export function writeHvmImage(dir: string, base: string, runFiles: readonly GuestFile[], moduleFiles: readonly string[]): { ramdisk: string; disk: string } {
  const ramdisk = path.join(dir, 'loader.cpio');
  const disk = path.join(dir, 'image.cpio');
  const modules = moduleFiles.map((file, index) => hostFile(file, `${MODULES_DIR}/${String(index).padStart(2, '0')}-${path.basename(file)}`, 0o644));
  writeArchive(ramdisk, withDirectories([CONSOLE, script(HVM_LOADER, LOADER), ...binaryWithLibraries(findBusybox(), GUEST_BUSYBOX), ...modules, ...runFiles]));
  copyFileSync(base, disk, fsConstants.COPYFILE_FICLONE);
  return { ramdisk, disk };
}
