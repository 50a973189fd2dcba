// From what cyclictest would run to what rtlat runs: the probe's options, the per-thread view cyclictest
// prints (P:, I:, "cpu"), and the outputs. What rtlat cannot do as cyclictest would is refused here, in
// one line naming the option, before anything starts.
import { DEFAULT_EXPLAIN_MAX, type ExplainOptions } from '../../measurement/explain/collector.js';
import type { ProbeOptions } from '../../measurement/measure.js';
import { LATENCY_RULE, NS_PER_S, NS_PER_US, parseDurationNs, parseInteger } from '../../units.js';
import { checkOutputPath } from '../../outputs/output-path.js';
import { CyclictestExit, type CyclictestSettings, type MachineView } from '../../cyclictest/index.js';

/** How cyclictest shows one thread: what it asked for, not what the kernel did. */
export interface CyclictestThreadView {
  priority: number;
  intervalUs: number;
  /** The CPU it is pinned to; -1 when not pinned (cyclictest's JSON writes -1). */
  cpu: number;
  /** Its NUMA node (cyclictest's JSON "node"); -1 without NUMA or with -S. */
  node: number;
}

export interface CyclictestPlan {
  settings: CyclictestSettings;
  probe: ProbeOptions;
  threads: CyclictestThreadView[];
  /** The policy cyclictest names in its live header: "fifo", or "fifo/other" when a thread falls back. */
  policyLabel: string;
  /** Resolved output paths; json "-" is stdout. */
  jsonPath: string | null;
  histfilePath: string | null;
  rtlatJsonPath: string | null;
  rtlatHdrLogPath: string | null;
  /** --rtlat-explain: what to explain (into --rtlat-json's run file, and a summary on stderr); null: no trace. */
  explain: ExplainOptions | null;
}

export interface PlanMachine extends MachineView {
  /** NUMA node of each CPU, by CPU number (-1 when unknown). */
  nodeOfCpu: (cpu: number) => number;
}

/** Why rtlat does not do what an option asks: the option as written, and the reason. */
function refuse(settings: CyclictestSettings, id: string, reason: string): never {
  throw new CyclictestExit(`${settings.spelled.get(id) ?? id}: not supported by rtlat: ${reason}`, 2);
}

const ABSOLUTE_SLEEP = "rtlat's threads sleep to absolute times with clock_nanosleep(TIMER_ABSTIME), cyclictest's default";
const MAX_INTERVAL_US = 10_000_000;

export function planCyclictestRun(settings: CyclictestSettings, machine: PlanMachine): CyclictestPlan {
  const s = settings;
  // cyclictest would run with its main thread where it was; rtlat says so rather than run it unpinned.
  if (s.spelled.has('mainaffinity') && s.mainAffinity === null) {
    throw new CyclictestExit(`${s.spelled.get('mainaffinity')}: expected a CPU list such as 0-3,6 of CPUs 0 to ${machine.configuredCpus - 1}`, 1);
  }
  if (s.relative) refuse(s, 'r', ABSOLUTE_SLEEP);
  if (s.system) refuse(s, 's', ABSOLUTE_SLEEP);
  if (s.posixTimers) refuse(s, 'x', ABSOLUTE_SLEEP);
  if (s.resolution) refuse(s, 'R', 'it does not time clock_gettime() calls');
  if (s.smi) refuse(s, 'smi', 'it does not read the SMI counter MSR');
  if (s.deepestIdleState !== null) refuse(s, 'deepest-idle-state', 'it does not disable idle states; it holds /dev/cpu_dma_latency at 0 instead (cyclictest\'s default)');
  if (s.latencyTargetUs !== 0 && !s.keepPowerManagement) refuse(s, 'latency', 'it holds /dev/cpu_dma_latency at 0 only');
  if (s.clock === 2) refuse(s, 'c', 'clock 2 is past the end of cyclictest\'s own table (0 CLOCK_MONOTONIC, 1 CLOCK_REALTIME)');
  if (s.alignUs < 0 || s.alignUs > 1_000_000) throw new CyclictestExit(`${s.spelled.get(s.aligned ? 'A' : 'secaligned')}: expected an offset from 0 to 1000000 us`, 2);
  if (s.nsecs && s.histogramUs) refuse(s, s.histogramSum ? 'H' : 'h', 'with -N it would need a histogram of nanosecond buckets; rtlat keeps them in microseconds');
  if (s.durationS < 0) refuse(s, 'D', 'a negative duration');
  if (s.breaktrace < 0) refuse(s, 'b', 'a negative threshold');
  if (s.spike < 0) refuse(s, 'spike', 'a negative threshold');
  if (s.threads > 4096) refuse(s, 't', 'more than 4096 threads');

  const realTime = (s.policy === 'fifo' || s.policy === 'rr') && s.priority > 0;
  const priorities = Array.from({ length: s.threads }, (_, index) => (s.priospread ? s.priority - index : s.priority));
  if (realTime && priorities.some((priority) => priority < 1)) {
    refuse(s, 'priospread', `thread ${priorities.findIndex((priority) => priority < 1)} would run at priority ${Math.min(...priorities)}; give -p ${s.threads} or more`);
  }
  const intervals = Array.from({ length: s.threads }, (_, index) => s.intervalUs + index * s.distanceUs);
  const badInterval = intervals.findIndex((intervalUs) => intervalUs < 1 || intervalUs > MAX_INTERVAL_US);
  if (badInterval >= 0) {
    const id = badInterval === 0 ? 'i' : 'd';
    throw new CyclictestExit(`${s.spelled.get(id) ?? `-${id}`}: thread ${badInterval} would wake every ${intervals[badInterval]}us; rtlat measures intervals from 1 to ${MAX_INTERVAL_US}us`, 2);
  }

  const pinnedCpus = s.affinity.kind === 'list' ? s.affinity.cpus : s.affinity.kind === 'all' ? machine.allowedCpus : null;
  const outside = pinnedCpus?.find((cpu) => !machine.allowedCpus.includes(cpu));
  if (outside !== undefined) throw new CyclictestExit(`${s.spelled.get('a') ?? '-a'}: CPU ${outside} is not one this process may run on (${machine.allowedCpus.join(',')})`, 2);

  // cyclictest keeps its scale (us, or ns with -N) in its thresholds.
  const thresholdNs = (value: number) => (s.nsecs ? value : value * NS_PER_US + (NS_PER_US - 1));
  const probe: ProbeOptions = {
    periodNs: s.intervalUs * NS_PER_US,
    distanceNs: s.distanceUs * NS_PER_US,
    threads: s.threads,
    policy: realTime ? (s.policy as 'fifo' | 'rr') : 'other',
    priority: realTime ? s.priority : 0,
    prioritySpread: realTime && s.priospread,
    clock: s.clock === 1 ? 'realtime' : 'monotonic',
    lockMemory: s.mlockall,
    dmaLatency: !s.keepPowerManagement,
    // cyclictest warns and carries on where the DMA-latency request is refused; the command decides.
    allowDegraded: true,
    aligned: s.secaligned,
    // cyclictest writes its trace mark and stops ftrace only with --tracemark.
    traceOnBreak: s.tracemark,
    keepProcessAlive: true,
  };
  // -A: every thread from one common start, thread N offset by N times the offset; --secaligned: all by it.
  if (s.aligned) probe.staggerNs = s.alignUs * NS_PER_US;
  if (s.secaligned) probe.alignOffsetNs = s.alignUs * NS_PER_US;
  if (pinnedCpus) probe.cpus = pinnedCpus;
  else probe.pin = false;
  // cyclictest also pins its main thread to -a's list, unless --mainaffinity says otherwise.
  const mainCpus = s.mainAffinity ?? (s.affinity.kind === 'list' ? s.affinity.cpus : null);
  if (mainCpus) probe.mainCpus = mainCpus;
  // -l: every thread stops when the first reaches it, as cyclictest's main loop stops them.
  if (s.loops > 0) {
    probe.loops = s.loops;
    probe.loopsEndAll = true;
  }
  if (s.durationS > 0) probe.durationNs = s.durationS * NS_PER_S;
  if (s.histogramUs) probe.histogramMaxUs = s.histogramUs;
  if (s.spike > 0) probe.spikeThresholdNs = thresholdNs(s.spike);
  if (s.breaktrace > 0) probe.breakThresholdNs = thresholdNs(s.breaktrace);
  if (s.rtlat.hdrLog !== null) probe.intervalNs = NS_PER_S;

  const numa = machine.numa && !s.smp;
  const threads = intervals.map((intervalUs, index) => {
    const cpu = pinnedCpus ? pinnedCpus[index % pinnedCpus.length]! : -1;
    // Unpinned, cyclictest still asks libnuma for the node of the CPU it would have used.
    const nodeCpu = cpu >= 0 ? cpu : machine.allowedCpus[index % machine.allowedCpus.length]!;
    return { priority: realTime ? priorities[index]! : 0, intervalUs, cpu, node: numa ? machine.nodeOfCpu(nodeCpu) : -1 };
  });
  const fallsBack = !realTime;
  return {
    settings: s,
    probe,
    threads,
    policyLabel: fallsBack ? `${s.policy}/other` : s.policy,
    jsonPath: s.jsonFile === null || s.jsonFile === '-' ? s.jsonFile : checkOutputPath('json', s.jsonFile),
    histfilePath: s.histfile === null || !s.histogramUs ? null : checkOutputPath('histfile', s.histfile),
    rtlatJsonPath: s.rtlat.json === null ? null : checkOutputPath('rtlat-json', s.rtlat.json),
    rtlatHdrLogPath: s.rtlat.hdrLog === null ? null : checkOutputPath('rtlat-hdr-log', s.rtlat.hdrLog),
    explain: explainOf(s),
  };
}

/** --rtlat-explain[=US] and --rtlat-explain-max=N, as rtlat measure's --explain and --explain-max. */
function explainOf(s: CyclictestSettings): ExplainOptions | null {
  const { explain, explainMax } = s.rtlat;
  if (explain === null) {
    if (explainMax !== null) throw new CyclictestExit('--rtlat-explain-max needs --rtlat-explain', 2);
    return null;
  }
  // The kernel's trace clock is CLOCK_MONOTONIC: wake-ups on another clock cannot be found in it.
  if (s.clock === 1) throw new CyclictestExit(`--rtlat-explain needs CLOCK_MONOTONIC (the kernel traces on it); drop ${s.spelled.get('c') ?? '-c 1'}`, 2);
  return {
    thresholdNs: explain === '' ? null : parseDurationNs('rtlat-explain', explain, LATENCY_RULE),
    maxPerThread: explainMax === null ? DEFAULT_EXPLAIN_MAX : parseInteger('rtlat-explain-max', explainMax, 1, 1_000_000),
  };
}
