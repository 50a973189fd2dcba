// KVM or TCG. /dev/kvm can be present and still not work (nested virtualization that cannot run this
// QEMU's CPU model, or a kernel that hangs under it), so KVM is used only after a short probe boot has
// come up with it, even when it was asked for; otherwise (auto) the guest runs under TCG, emulated,
// and its results say so.
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatDuration, NS_PER_MS } from '../../units.js';
import { writeProbeInitrd } from './initramfs.js';
import { GuestChannel } from './protocol.js';
import { type Accelerator, linuxCommandLine, Vm } from './vm.js';

export type AcceleratorChoice = 'auto' | Accelerator;

export interface AcceleratorDecision {
  accelerator: Accelerator;
  /** Why, in words, for the run file and the warning. */
  reason: string;
}

const KVM_DEVICE = '/dev/kvm';

/** Why KVM cannot be used here without trying it, or null when /dev/kvm can be opened read-write. */
export function kvmDeviceProblem(): string | null {
  try {
    accessSync(KVM_DEVICE, constants.R_OK | constants.W_OK);
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${KVM_DEVICE} is absent` : `${KVM_DEVICE} is not accessible (${code})`;
  }
}

/** Boots `kernel` under KVM with an initrd that only reports back; null when it came up within the time-out, else why not. */
export async function probeKvm(qemu: string, kernel: string, timeoutMs: number): Promise<string | null> {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtlat-kvm-probe-'));
  let vm: Vm | null = null;
  let timer: NodeJS.Timeout | undefined;
  try {
    const initrd = path.join(dir, 'probe.cpio');
    writeProbeInitrd(initrd);
    let ready!: () => void;
    const cameUp = new Promise<void>((resolve) => (ready = resolve));
    const channel = new GuestChannel({ onReady: () => ready() });
    vm = await Vm.start(
      { qemu, kernel, initrd, accelerator: 'kvm', vcpus: 1, memoryMiB: 256, commandLine: linuxCommandLine([]), dir },
      { onChannel: (text) => channel.push(text) },
    );
    await vm.resume();
    rmSync(dir, { recursive: true, force: true });
    const exited = vm.exited.then(({ code, signal }) => `QEMU exited (${signal ?? `code ${code}`}): ${vm!.lastLines(1)[0] ?? 'no message'}`);
    const timedOut = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`a probe boot did not come up within ${formatDuration(timeoutMs * NS_PER_MS)}`), timeoutMs);
    });
    return await Promise.race([cameUp.then(() => null), exited, timedOut]);
  } catch (error) {
    return (error as Error).message;
  } finally {
    clearTimeout(timer);
    await vm?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

// One probe per QEMU and kernel in a process: `rtlat matrix` boots several guests.
const probed = new Map<string, Promise<string | null>>();

export async function chooseAccelerator(choice: AcceleratorChoice, qemu: string, kernel: string, probeTimeoutMs: number): Promise<AcceleratorDecision> {
  if (choice === 'tcg') return { accelerator: 'tcg', reason: 'TCG was asked for (--accel tcg)' };
  const deviceProblem = kvmDeviceProblem();
  if (choice === 'kvm' && deviceProblem) throw new Error(`--accel kvm, but ${deviceProblem}`);
  if (deviceProblem) return { accelerator: 'tcg', reason: deviceProblem };
  const key = `${qemu}\0${kernel}`;
  if (!probed.has(key)) probed.set(key, probeKvm(qemu, kernel, probeTimeoutMs));
  const problem = await probed.get(key)!;
  // Asked for, KVM is still probed: a /dev/kvm that cannot run this kernel would otherwise hang the real boot until its time-out.
  if (choice === 'kvm') {
    if (problem !== null) throw new Error(`--accel kvm, but KVM does not work here: ${problem}`);
    return { accelerator: 'kvm', reason: 'KVM was asked for (--accel kvm) and a probe boot came up' };
  }
  return problem === null
    ? { accelerator: 'kvm', reason: 'a KVM probe boot came up' }
    : { accelerator: 'tcg', reason: `KVM does not work here: ${problem}` };
}
