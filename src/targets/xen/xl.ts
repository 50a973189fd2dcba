// Xen's toolstack as rtlat uses it from Dom0: whether this is a Dom0 at all, `xl` (and `xenstore-read`)
// run and their output read, `xl info`, and the vCPU affinities of `xl vcpu-list`. Debian's /usr/sbin/xl
// is a wrapper script; the real binary is in /usr/lib/xen-VERSION/bin, which is also looked in.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { findExecutable } from '../guest/contents.js';
import { parseCpuList } from '../../units.js';

const CAPABILITIES = '/proc/xen/capabilities';

/** Why this is not a Xen Dom0, or null when it is (/proc/xen/capabilities says control_d). */
export function dom0Problem(): string | null {
  let capabilities: string;
  try {
    capabilities = readFileSync(CAPABILITIES, 'utf8').trim();
  } catch {
    let hypervisor = '';
    try {
      hypervisor = readFileSync('/sys/hypervisor/type', 'utf8').trim();
    } catch {
      // no /sys/hypervisor: not a Xen guest of any kind
    }
    return hypervisor === 'xen'
      ? `${CAPABILITIES} is absent: mount xenfs (mount -t xenfs xenfs /proc/xen) if this is Dom0`
      : `this is not a Xen host (${CAPABILITIES} is absent and /sys/hypervisor/type does not say xen): run it in Dom0, or try it in an emulated one with rtlat lab --host xen`;
  }
  return capabilities.split(/[\s,]+/).includes('control_d') ? null : `${CAPABILITIES} does not say control_d: this is a domU, not Dom0`;
}

function xenToolDirs(): string[] {
  try {
    return readdirSync('/usr/lib')
      .filter((name) => /^xen-[\d.]+$/.test(name))
      .sort()
      .reverse()
      .map((name) => path.join('/usr/lib', name, 'bin'));
  } catch {
    return [];
  }
}

/** `name` of Xen's tools: on PATH, or in /usr/lib/xen-VERSION/bin. */
export function findXenTool(name: string): string {
  const found = findExecutable(name, [...xenToolDirs(), '/usr/sbin', '/usr/bin']);
  if (found === null) throw new Error(`${name} not found (on PATH or in /usr/lib/xen-*/bin): install Xen's tools (Debian: apt-get install xen-utils)`);
  return found;
}

export interface XlOutput {
  stdout: string;
  stderr: string;
}

/** Runs a Xen tool and returns its output; an Error with its first line of complaint when it fails. */
export function xenTool(name: string, args: readonly string[]): XlOutput {
  const binary = findXenTool(name);
  const result = spawnSync(binary, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (result.error) throw new Error(`${name} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) {
    const complaint = `${result.stderr}\n${result.stdout}`.split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('Parsing config'));
    throw new Error(`${name} ${args.join(' ')} failed (${result.signal ?? `exit status ${result.status}`}): ${complaint.at(-1) ?? 'no message'}`);
  }
  return { stdout: result.stdout, stderr: result.stderr };
}

/** `xl` asynchronously (xl create takes seconds; the event loop keeps reading the guest meanwhile). */
export function xlAsync(args: readonly string[]): Promise<XlOutput> {
  const binary = findXenTool('xl');
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.once('error', (error) => reject(new Error(`xl ${args.join(' ')}: ${error.message}`)));
    child.once('close', (status, signal) => {
      if (status === 0) return resolve({ stdout, stderr });
      const complaint = `${stderr}\n${stdout}`.split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('Parsing config'));
      reject(new Error(`xl ${args[0]} failed (${signal ?? `exit status ${status}`}): ${complaint.at(-1) ?? 'no message'}`));
    });
  });
}

export function xl(args: readonly string[]): string {
  return xenTool('xl', args).stdout;
}

export interface XenInfo {
  /** xen_version, e.g. "4.17.7+13-g2445b30a44-0+deb12u1" (Debian's). */
  version: string | null;
  scheduler: string | null;
  pcpus: number | null;
  commandLine: string | null;
}

/** The "key : value" lines of `xl info`. */
export function parseXlInfo(text: string): XenInfo {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^(\w+)\s*:\s?(.*)$/.exec(line);
    if (match) values.set(match[1]!, match[2]!.trim());
  }
  const major = values.get('xen_major');
  const minor = values.get('xen_minor');
  const pcpus = Number(values.get('nr_cpus'));
  return {
    version: values.get('xen_version') ?? (major !== undefined && minor !== undefined ? `${major}.${minor}${values.get('xen_extra') ?? ''}` : null),
    scheduler: values.get('xen_scheduler') ?? null,
    pcpus: Number.isInteger(pcpus) && pcpus > 0 ? pcpus : null,
    commandLine: values.get('xen_commandline') ?? null,
  };
}

export interface VcpuAffinity {
  vcpu: number;
  /** The physical CPU it is on now; null when not running. */
  cpu: number | null;
  /** Its hard affinity; null for "all". */
  hard: number[] | null;
}

/** `xl vcpu-list NAME`: each vCPU of the domain with its hard affinity. */
export function parseVcpuList(text: string, domain: string): VcpuAffinity[] {
  const vcpus: VcpuAffinity[] = [];
  for (const line of text.split('\n')) {
    // Name  ID  VCPU  CPU  State  Time(s)  Affinity (Hard / Soft)
    const match = /^(\S+)\s+\d+\s+(\d+)\s+(\S+)\s+\S+\s+[\d.]+\s+(\S+)\s*\/\s*\S+/.exec(line.trim());
    if (!match || match[1] !== domain) continue;
    vcpus.push({ vcpu: Number(match[2]), cpu: /^\d+$/.test(match[3]!) ? Number(match[3]) : null, hard: match[4] === 'all' ? null : parseCpuList('affinity', match[4]!) });
  }
  return vcpus.sort((a, b) => a.vcpu - b.vcpu);
}

/** Every domain `xl list` shows, by name (Domain-0 included). */
export function parseXlList(text: string): { name: string; id: number }[] {
  return text
    .split('\n')
    .slice(1)
    .map((line) => /^(\S+)\s+(\d+)\s/.exec(line.trim()))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ name: match[1]!, id: Number(match[2]) }));
}

export function xenstoreRead(key: string): string | null {
  try {
    return xenTool('xenstore-read', [key]).stdout.trim();
  } catch {
    return null;
  }
}
