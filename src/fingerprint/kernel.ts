// What kind of kernel the latencies were measured on: its release, how preemptible it is, its tick.
import { commandLineParameter, type KernelCommandLine } from './cmdline.js';
import { configEnabled, configOption, type KernelConfig, readKernelConfig } from './config.js';
import { type Field, firstKnown, isKnown, known, mapField, type SystemFiles, unknown } from './field.js';

export type PreemptionModel = 'PREEMPT_RT' | 'PREEMPT_DYNAMIC' | 'PREEMPT_LAZY' | 'PREEMPT' | 'VOLUNTARY' | 'NONE';
export type PreemptDynamicMode = 'none' | 'voluntary' | 'full' | 'lazy';
export type NoHzMode = 'full' | 'idle' | 'periodic';

export interface KernelFingerprint {
  /** uname -r */
  release: Field<string>;
  /** uname -v: "#1 SMP PREEMPT_DYNAMIC ..." */
  version: Field<string>;
  preemption: Field<PreemptionModel>;
  /**
   * The mode a PREEMPT_DYNAMIC kernel runs in. Current when debugfs is readable; otherwise the mode it
   * booted in (preempt= on the command line, else the config's default), which root may since have changed.
   */
  preemptDynamicMode: Field<PreemptDynamicMode>;
  /** CONFIG_HZ: the tick rate, which bounds timer resolution where high-resolution timers are off. */
  hz: Field<number>;
  noHz: Field<NoHzMode>;
  commandLine: Field<string>;
}

export const REALTIME_FILE = '/sys/kernel/realtime';
export const PREEMPT_DEBUGFS_FILE = '/sys/kernel/debug/sched/preempt';
const PROC_VERSION_FILE = '/proc/version';

function readRelease(files: SystemFiles): Field<string> {
  const fromBanner = mapField(files.trimmed(PROC_VERSION_FILE), (banner, source) => {
    const match = /^Linux version (\S+)/.exec(banner);
    return match ? known(match[1]!, source) : unknown(`${source} does not start with "Linux version"`);
  });
  return firstKnown(files.trimmed('/proc/sys/kernel/osrelease'), fromBanner);
}

function readVersion(files: SystemFiles): Field<string> {
  const fromBanner = mapField(files.trimmed(PROC_VERSION_FILE), (banner, source) => {
    const match = / (#\d+\S*(?: .*)?)$/.exec(banner);
    return match ? known(match[1]!, source) : unknown(`${source} has no "#<build> ..." version part`);
  });
  return firstKnown(files.trimmed('/proc/sys/kernel/version'), fromBanner);
}

/** The preemption flag the build put in the version string: exactly one of PREEMPT, PREEMPT_DYNAMIC, PREEMPT_RT, or none. */
function versionFlag(version: string): 'PREEMPT_RT' | 'PREEMPT_DYNAMIC' | 'PREEMPT' | null {
  const words = version.split(/\s+/);
  if (words.includes('PREEMPT_RT')) return 'PREEMPT_RT';
  if (words.includes('PREEMPT_DYNAMIC')) return 'PREEMPT_DYNAMIC';
  if (words.includes('PREEMPT')) return 'PREEMPT';
  return null;
}

const CONFIG_MODELS: [string, PreemptionModel][] = [
  ['CONFIG_PREEMPT_RT', 'PREEMPT_RT'],
  ['CONFIG_PREEMPT_DYNAMIC', 'PREEMPT_DYNAMIC'],
  ['CONFIG_PREEMPT_LAZY', 'PREEMPT_LAZY'],
  ['CONFIG_PREEMPT', 'PREEMPT'],
  ['CONFIG_PREEMPT_VOLUNTARY', 'VOLUNTARY'],
  ['CONFIG_PREEMPT_NONE', 'NONE'],
];

function readPreemption(files: SystemFiles, version: Field<string>, config: Field<KernelConfig>): Field<PreemptionModel> {
  const realtime = files.trimmed(REALTIME_FILE);
  if (realtime.value === '1') return known('PREEMPT_RT', `${REALTIME_FILE} = 1`);
  const flag = isKnown(version) ? versionFlag(version.value) : null;
  const versionSource = isKnown(version) ? `${version.source} (version string)` : '';
  if (flag === 'PREEMPT_RT') return known(flag, versionSource);
  if (isKnown(config)) {
    for (const [option, model] of CONFIG_MODELS) {
      if (configEnabled(config.value, option)) return known(model, `${config.value.file}: ${option}=y`);
    }
  }
  // The debugfs file exists only on PREEMPT_DYNAMIC kernels.
  const debugfs = files.trimmed(PREEMPT_DEBUGFS_FILE);
  if (isKnown(debugfs)) return known('PREEMPT_DYNAMIC', debugfs.source);
  // Without a config, "PREEMPT" in the version string may also be PREEMPT_LAZY (6.13+): both build as PREEMPT.
  if (flag !== null) return known(flag, versionSource);
  const reasons = [isKnown(version) ? `the version string (${version.source}) carries no PREEMPT flag, so the model is NONE or VOLUNTARY` : version.reason];
  if (!isKnown(config)) reasons.push(`and no kernel config tells which (${config.reason})`);
  return unknown(reasons.join(' '));
}

const DEFAULT_DYNAMIC_MODES: [string, PreemptDynamicMode][] = [
  ['CONFIG_PREEMPT_NONE', 'none'],
  ['CONFIG_PREEMPT_VOLUNTARY', 'voluntary'],
  ['CONFIG_PREEMPT', 'full'],
  ['CONFIG_PREEMPT_LAZY', 'lazy'],
];

function isDynamicMode(word: string): word is PreemptDynamicMode {
  return word === 'none' || word === 'voluntary' || word === 'full' || word === 'lazy';
}

function readPreemptDynamicMode(files: SystemFiles, preemption: Field<PreemptionModel>, config: Field<KernelConfig>, cmdline: Field<KernelCommandLine>): Field<PreemptDynamicMode> {
  // The file lists the modes and brackets the current one: "none voluntary (full) lazy".
  const debugfs = files.trimmed(PREEMPT_DEBUGFS_FILE);
  if (isKnown(debugfs)) {
    const current = /\((\w+)\)/.exec(debugfs.value)?.[1];
    return current !== undefined && isDynamicMode(current) ? known(current, debugfs.source) : unknown(`${debugfs.source} marks no current mode: ${JSON.stringify(debugfs.value)}`);
  }
  if (preemption.value !== 'PREEMPT_DYNAMIC') {
    return unknown(preemption.value === null ? 'the preemption model is unknown' : `not a PREEMPT_DYNAMIC kernel (${preemption.value})`);
  }
  const unconfirmed = `the boot choice; ${debugfs.reason} (debugfs not mounted, or not root), so a later change is not seen`;
  const booted = commandLineParameter(cmdline, 'preempt');
  if (isKnown(booted) && isDynamicMode(booted.value)) return known(booted.value, `${booted.source} (${unconfirmed})`);
  if (isKnown(config)) {
    for (const [option, mode] of DEFAULT_DYNAMIC_MODES) {
      if (configEnabled(config.value, option)) return known(mode, `${config.value.file}: ${option}=y (${unconfirmed})`);
    }
  }
  return unknown(`${debugfs.reason}, no preempt= on the kernel command line and no readable kernel config`);
}

function readHz(config: Field<KernelConfig>): Field<number> {
  return mapField(configOption(config, 'CONFIG_HZ'), (text, source) => (/^\d+$/.test(text) ? known(Number(text), source) : unknown(`${source} is not a number`)));
}

function readNoHz(config: Field<KernelConfig>): Field<NoHzMode> {
  return mapField(config, (value) => {
    const modes: [string, NoHzMode][] = [['CONFIG_NO_HZ_FULL', 'full'], ['CONFIG_NO_HZ_IDLE', 'idle'], ['CONFIG_HZ_PERIODIC', 'periodic']];
    for (const [option, mode] of modes) if (configEnabled(value, option)) return known(mode, `${value.file}: ${option}=y`);
    return unknown(`${value.file} sets none of CONFIG_NO_HZ_FULL, CONFIG_NO_HZ_IDLE, CONFIG_HZ_PERIODIC`);
  });
}

export function readKernel(files: SystemFiles, cmdline: Field<KernelCommandLine>): KernelFingerprint {
  const release = readRelease(files);
  const version = readVersion(files);
  const config = readKernelConfig(files, release);
  const preemption = readPreemption(files, version, config);
  return {
    release,
    version,
    preemption,
    preemptDynamicMode: readPreemptDynamicMode(files, preemption, config, cmdline),
    hz: readHz(config),
    noHz: readNoHz(config),
    commandLine: mapField(cmdline, (line, source) => known(line.text, source)),
  };
}
