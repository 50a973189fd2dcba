// The CPUs: which are isolated from the scheduler, the tick and RCU callbacks, and how they idle and
// clock down, since waking from a deep idle state or a low frequency is part of a wake-up's latency.
import { commandLineParameter, type KernelCommandLine, parseKernelCpuList } from './cmdline.js';
import { type Field, firstKnown, isKnown, known, mapField, type SystemFiles, unknown } from './field.js';

export interface CpuidleState {
  name: string;
  /** The exit latency the driver declares for the state. */
  latencyUs: number | null;
  disabled: boolean | null;
}

export interface CpuFingerprint {
  modelName: Field<string>;
  online: Field<number[]>;
  /** CPUs taken out of scheduler load balancing (isolcpus=domain or cpusets). */
  isolated: Field<number[]>;
  /** CPUs whose tick stops while they run a single task (nohz_full=). */
  nohzFull: Field<number[]>;
  /** CPUs whose RCU callbacks run in kthreads elsewhere (rcu_nocbs=); [] for a bare rcu_nocbs. */
  rcuNocbs: Field<number[]>;
  smtControl: Field<string>;
  smtActive: Field<boolean>;
  /** CPU -> cpufreq governor. */
  cpufreqGovernors: Field<Record<number, string>>;
  cpuidleDriver: Field<string>;
  cpuidleGovernor: Field<string>;
  /** CPU 0's idle states; the others normally have the same. */
  cpuidleStates: Field<CpuidleState[]>;
}

const CPU_DIR = '/sys/devices/system/cpu';

function readModelName(files: SystemFiles): Field<string> {
  return mapField(files.text('/proc/cpuinfo'), (text, source) => {
    // x86 says "model name"; some other architectures "Processor", "cpu model" or "Hardware".
    for (const key of ['model name', 'Processor', 'cpu model', 'Hardware']) {
      const match = new RegExp(`^${key}\\s*:\\s*(.+)$`, 'm').exec(text);
      if (match) return known(match[1]!.trim(), `${source}: ${key}`);
    }
    return unknown(`${source} names no CPU model`);
  });
}

function readRcuNocbs(cmdline: Field<KernelCommandLine>, online: Field<number[]>, files: SystemFiles): Field<number[]> {
  return mapField(commandLineParameter(cmdline, 'rcu_nocbs'), (text, source) => {
    const possible = files.cpuList(`${CPU_DIR}/possible`).value ?? online.value;
    const lastCpu = possible === null || possible.length === 0 ? null : possible[possible.length - 1]!;
    return known(parseKernelCpuList(text, lastCpu), source);
  });
}

function cpuNumbers(files: SystemFiles, online: Field<number[]>): number[] {
  if (isKnown(online)) return online.value;
  return (files.list(CPU_DIR) ?? []).flatMap((entry) => (/^cpu(\d+)$/.exec(entry) ? [Number(entry.slice(3))] : [])).sort((a, b) => a - b);
}

function readCpufreqGovernors(files: SystemFiles, cpus: number[]): Field<Record<number, string>> {
  const governors: Record<number, string> = {};
  let firstReason: string | null = null;
  for (const cpu of cpus) {
    const governor = files.trimmed(`${CPU_DIR}/cpu${cpu}/cpufreq/scaling_governor`);
    if (isKnown(governor)) governors[cpu] = governor.value;
    else firstReason ??= governor.reason;
  }
  if (Object.keys(governors).length > 0) return known(governors, `${CPU_DIR}/cpuN/cpufreq/scaling_governor`);
  return unknown(`${firstReason ?? 'no CPU is known'} (no cpufreq driver: the frequency is up to the firmware or the hypervisor)`);
}

function readCpuidleStates(files: SystemFiles): Field<CpuidleState[]> {
  const directory = `${CPU_DIR}/cpu0/cpuidle`;
  const entries = files.list(directory);
  if (entries === null) return unknown(`${directory} is absent (no cpuidle driver)`);
  const states = entries
    .flatMap((entry) => (/^state(\d+)$/.exec(entry) ? [Number(entry.slice(5))] : []))
    .sort((a, b) => a - b)
    .flatMap((index): CpuidleState[] => {
      const name = files.trimmed(`${directory}/state${index}/name`).value;
      if (name === null) return [];
      const disable = files.trimmed(`${directory}/state${index}/disable`).value;
      return [{ name, latencyUs: files.integer(`${directory}/state${index}/latency`).value, disabled: disable === null ? null : disable !== '0' }];
    });
  return known(states, directory);
}

export function readCpus(files: SystemFiles, cmdline: Field<KernelCommandLine>): CpuFingerprint {
  const online = files.cpuList(`${CPU_DIR}/online`);
  const nohzFull = files.cpuList(`${CPU_DIR}/nohz_full`);
  return {
    modelName: readModelName(files),
    online,
    isolated: files.cpuList(`${CPU_DIR}/isolated`),
    nohzFull: isKnown(nohzFull) ? nohzFull : unknown(`${nohzFull.reason} (a kernel built without CONFIG_NO_HZ_FULL)`),
    rcuNocbs: readRcuNocbs(cmdline, online, files),
    smtControl: files.trimmed(`${CPU_DIR}/smt/control`),
    smtActive: mapField(files.trimmed(`${CPU_DIR}/smt/active`), (text, source) => known(text === '1', source)),
    cpufreqGovernors: readCpufreqGovernors(files, cpuNumbers(files, online)),
    cpuidleDriver: files.trimmed(`${CPU_DIR}/cpuidle/current_driver`),
    // current_governor_ro is the older name; newer kernels have a writable current_governor.
    cpuidleGovernor: firstKnown(files.trimmed(`${CPU_DIR}/cpuidle/current_governor`), files.trimmed(`${CPU_DIR}/cpuidle/current_governor_ro`)),
    cpuidleStates: readCpuidleStates(files),
  };
}
