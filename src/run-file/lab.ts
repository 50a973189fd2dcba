// Runs made in an emulated lab host (rtlat lab) say so. rtlat lab puts `rtlat.lab=KIND/ACCEL` on the lab
// host's kernel command line, which every fingerprint records: a run measured in the lab host carries it
// in its environment, a run in a guest of the lab host in its hostEnvironment. rtlat lab also writes the
// `lab` block into each run file it brings back; this reads either.
import type { Fingerprint } from '../fingerprint/index.js';
import type { RunFile, RunLab } from './schema.js';

/** The kernel command-line parameter rtlat lab sets on its hosts. */
export const LAB_PARAMETER = 'rtlat.lab';

export interface LabMarker {
  host: RunLab['host'];
  accelerator: RunLab['accelerator'];
}

/** `rtlat.lab=xen/tcg` on a kernel command line, or null. */
export function labMarker(commandLine: string | null | undefined): LabMarker | null {
  const match = new RegExp(`(?:^|\\s)${LAB_PARAMETER.replace('.', '\\.')}=(xen|kvm)/(kvm|tcg)(?:\\s|$)`).exec(commandLine ?? '');
  return match ? { host: match[1] as LabMarker['host'], accelerator: match[2] as LabMarker['accelerator'] } : null;
}

function commandLineOf(fingerprint: unknown): string | null {
  return (fingerprint as Partial<Fingerprint> | null)?.kernel?.commandLine?.value ?? null;
}

/** What ran in the lab host, for the nesting: "dom0", "domU pvh", "guest kvm", "host". */
function innerPart(run: RunFile, marker: LabMarker, inLabHost: boolean): string {
  if (inLabHost) return marker.host === 'xen' ? 'dom0' : 'host';
  const guest = run.guest;
  if (guest?.hypervisor === 'xen') return `domU ${guest.type}`;
  if (guest) return `guest ${guest.accelerator}`;
  const xenType = (run.environment as Partial<Fingerprint> | null)?.virtualization?.xenGuestType?.value;
  return xenType ? `domU ${xenType}` : 'guest';
}

/** The lab block of a run made in a lab host, from its fingerprints; null for any other run. */
export function labFromFingerprints(run: RunFile, description: string | null = null): RunLab | null {
  const own = labMarker(commandLineOf(run.environment));
  const host = own ?? labMarker(commandLineOf(run.hostEnvironment));
  if (host === null) return null;
  return { ...host, emulated: true, nesting: `lab ${host.host}/${host.accelerator} > ${innerPart(run, host, own !== null)}`, description };
}

/** The run's lab block: its own, or the one its fingerprints imply; null when it was not made in a lab. */
export function labOf(run: RunFile): RunLab | null {
  return run.lab ?? labFromFingerprints(run);
}
