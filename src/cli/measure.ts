// `rtlat measure`: cyclictest's job from one command, with its outputs and rtlat's.
import { Command, Option } from 'commander';
import { writeFileAtomic } from '../outputs/atomic-file.js';
import { OptionError } from '../errors.js';
import { HdrLogWriter } from '../formats/hdr-log.js';
import { formatCyclictestHistogram, formatCyclictestSummary } from '../outputs/cyclictest/text.js';
import { parseCyclictestVersion, type CyclictestVersion } from '../outputs/cyclictest/version.js';
import { labelRuns } from '../compare/environment.js';
import { formatSummaryTable } from '../formats/table.js';
import { formatLoadWork, parseLoadSpec, type LoadSpec } from '../load/index.js';
import { measureRun } from '../measurement/measure.js';
import { judgeRun, parseFailAbove, type VerdictRules } from '../measurement/verdict.js';
import type { ProbeOptions } from '../options.js';
import type { Probe } from '../probe.js';
import type { Spike } from '../recorder.js';
import { renderReport } from '../report/report.js';
import type { RunFile } from '../run.js';
import { DURATION_RULE, formatCpuList, NS_PER_MS, NS_PER_S, NS_PER_US, parseCpuList, parseDurationNs, parseInteger, PERIOD_RULE } from '../units.js';
import { RTLAT_VERSION } from '../version.js';
import { EXIT, reportError, UsageError } from './errors.js';
import { commandLine } from './command-line.js';
import { checkOutputPath } from '../outputs/output-path.js';
import { StatusLine } from './status.js';
import { writeStdout } from './stdout.js';
import { onStopSignals } from './signals.js';

interface MeasureFlags {
  period: string;
  duration?: string;
  loops?: string;
  threads?: string;
  cpus?: string;
  mainCpus?: string;
  priority?: string;
  policy: string;
  deadlineRuntime?: string;
  clock: string;
  distance?: string;
  aligned?: boolean;
  mlock: boolean;
  dmaLatency: boolean;
  allowDegraded?: boolean;
  format: string;
  histogram?: string;
  json?: string;
  hdrLog?: string;
  hdrInterval: string;
  report?: string;
  spike?: string;
  breaktrace?: string;
  quiet?: boolean;
  load?: string;
  loadCpus?: string;
  failAbove?: string;
  failOnDropped?: boolean;
  failOnDegraded?: boolean;
}

interface Outputs {
  format: 'table' | 'cyclictest';
  /** The dialect of the cyclictest formats: RTLAT_CYCLICTEST_VERSION, else the newest. */
  cyclictestVersion: CyclictestVersion;
  histogram: boolean;
  jsonPath: string | null;
  hdrLogPath: string | null;
  reportPath: string | null;
  quiet: boolean;
}

export function measureCommand(): Command {
  return new Command('measure')
    .description('Measure wake-up latency like cyclictest: periodic threads, one per CPU by default.')
    .option('-i, --period <time>', 'wake-up period: ns, us, ms or s (a bare number is us, as cyclictest -i)', '1ms')
    .option('-D, --duration <time>', 'how long to measure: s, m, h or d (a bare number is s)')
    .option('-l, --loops <n>', 'wake-ups per thread')
    .option('-t, --threads <n>', 'number of measuring threads (default: one per CPU in --cpus)')
    .option('-a, --cpus <list>', 'CPUs to pin threads to, e.g. 0-3,6 (default: every CPU this process may use)')
    .option('--main-cpus <list>', 'pin rtlat\'s other threads (JS, libuv, V8) to these CPUs, as cyclictest --mainaffinity (default: left as started)')
    .option('-p, --priority <prio>', 'real-time priority (default 99 for fifo/rr; 0 for other/deadline)')
    .addOption(new Option('--policy <policy>', 'scheduling policy').choices(['fifo', 'rr', 'other', 'deadline']).default('fifo'))
    .option('--deadline-runtime <time>', 'SCHED_DEADLINE runtime per period (default 10% of it, at least 20us)')
    .addOption(new Option('-c, --clock <clock>', 'clock to sleep on').choices(['monotonic', 'realtime']).default('monotonic'))
    .option('-d, --distance <time>', 'add this to the period of each further thread, as cyclictest -d (default 0)')
    .option('--aligned', 'start every thread on the next full second (cyclictest --secaligned)')
    .option('--no-mlock', 'do not lock the measuring threads\' memory')
    .option('--no-dma-latency', 'do not hold /dev/cpu_dma_latency at 0')
    .option('--allow-degraded', 'measure even when the RT policy, memory locking or the DMA-latency request is refused')
    .addOption(new Option('--format <format>', 'summary on stdout').choices(['table', 'cyclictest']).default('table'))
    .option('--histogram <maxus>', 'print cyclictest\'s -h histogram up to this many us')
    .option('--json <file>', 'write the run as JSON (docs/run-schema.md)')
    .option('--hdr-log <file>', 'write an HdrHistogram interval log (one tag per CPU)')
    .option('--hdr-interval <time>', 'interval of the HdrHistogram log', '1s')
    .option('--report <file>', 'write an HTML report of the run (as rtlat report)')
    .option('--spike <us>', 'list every sample above this many us (stderr and JSON)')
    .option('-b, --breaktrace <us>', 'stop at the first sample above this many us and stop ftrace; exit code 4')
    .option('-q, --quiet', 'no live status line')
    .option('--load <kinds>', 'run load generators while measuring: syscalls, ipc, timers, io, memory, stress-ng:ARGS (comma-separated)')
    .option('--load-cpus <list>', 'CPUs for the load generators (default: the measured CPUs)')
    .option('--fail-above <bounds>', 'exit 5 (after writing every output) when a bound is exceeded on a thread or over all: max=100us,p99.99=40us,p99=30us')
    .option('--fail-on-dropped', 'exit 5 when samples were dropped')
    .option('--fail-on-degraded', 'exit 5 when the set-up was degraded (with --allow-degraded)')
    .action(async (flags: MeasureFlags, command: Command) => {
      // cyclictest's -q prints its T: lines; rtlat's only hides the live status. Said when stdout is all there is.
      const filesOnly = flags.json !== undefined || flags.report !== undefined || flags.hdrLog !== undefined;
      if (flags.quiet && !filesOnly && command.getOptionValueSource('format') === 'default') {
        process.stderr.write("rtlat measure: hint: -q only hides the live status line; for cyclictest's T: lines add --format cyclictest, or run `rtlat cyclictest -q ...`\n");
      }
      process.exitCode = await measure(flags);
    });
}

/** The verdict judges a run of `rtlat measure`; the commands sharing its options do not take it. */
const VERDICT_OPTIONS: readonly string[] = ['failAbove', 'failOnDropped', 'failOnDegraded'];

/** Adds the options of `rtlat measure` whose attribute names `keep` accepts, for commands that measure too. */
export function addMeasureOptions(command: Command, keep: (attributeName: string) => boolean): Command {
  for (const option of measureCommand().options) {
    if (!VERDICT_OPTIONS.includes(option.attributeName()) && keep(option.attributeName())) command.addOption(option);
  }
  return command;
}

function usToNs(option: string, text: string): number {
  return parseDurationNs(option, text, { units: ['ns', 'us', 'ms', 's'], bareUnit: 'us', minNs: 0, maxNs: 10 * NS_PER_S });
}

export function parseMeasureFlags(flags: MeasureFlags): {
  probe: ProbeOptions;
  outputs: Outputs;
  /** cpus null: the measured CPUs. */
  load: { spec: LoadSpec; cpus: number[] | null } | null;
  verdict: VerdictRules;
} {
  if (flags.loops !== undefined && flags.duration !== undefined) {
    throw new UsageError(`--loops and --duration were both given (${flags.loops}, ${flags.duration}); give one of them`);
  }
  if (flags.loadCpus !== undefined && flags.load === undefined) throw new UsageError('--load-cpus needs --load');
  const load =
    flags.load === undefined ? null : { spec: parseLoadSpec(flags.load), cpus: flags.loadCpus === undefined ? null : parseCpuList('load-cpus', flags.loadCpus) };
  const probe: ProbeOptions = {
    periodNs: parseDurationNs('period', flags.period, PERIOD_RULE),
    policy: flags.policy as ProbeOptions['policy'],
    clock: flags.clock as ProbeOptions['clock'],
    lockMemory: flags.mlock,
    dmaLatency: flags.dmaLatency,
    allowDegraded: flags.allowDegraded ?? false,
    aligned: flags.aligned ?? false,
    keepProcessAlive: true,
  };
  if (flags.duration !== undefined) probe.durationNs = parseDurationNs('duration', flags.duration, DURATION_RULE);
  if (flags.loops !== undefined) probe.loops = parseInteger('loops', flags.loops, 1, Number.MAX_SAFE_INTEGER);
  if (flags.threads !== undefined) probe.threads = parseInteger('threads', flags.threads, 1, 4096);
  if (flags.cpus !== undefined) probe.cpus = parseCpuList('cpus', flags.cpus);
  if (flags.mainCpus !== undefined) probe.mainCpus = parseCpuList('main-cpus', flags.mainCpus);
  if (flags.priority !== undefined) probe.priority = parseInteger('priority', flags.priority, -1000, 1000);
  if (flags.deadlineRuntime !== undefined) probe.deadlineRuntimeNs = parseDurationNs('deadline-runtime', flags.deadlineRuntime, PERIOD_RULE);
  if (flags.distance !== undefined) probe.distanceNs = parseDurationNs('distance', flags.distance, { ...PERIOD_RULE, allowZero: true });
  if (flags.spike !== undefined) probe.spikeThresholdNs = usToNs('spike', flags.spike);
  if (flags.breaktrace !== undefined) {
    probe.breakThresholdNs = usToNs('breaktrace', flags.breaktrace);
    if (probe.breakThresholdNs === 0) throw new OptionError('breaktrace', flags.breaktrace, 'a latency above 0, e.g. 100 (us)');
  }
  if (flags.histogram !== undefined) probe.histogramMaxUs = parseInteger('histogram', flags.histogram, 1, 1_000_000);
  const hdrIntervalNs = parseDurationNs('hdr-interval', flags.hdrInterval, { units: ['ms', 's', 'm'], bareUnit: 's', minNs: 10 * NS_PER_MS, maxNs: 3_600 * NS_PER_S });
  const outputs: Outputs = {
    format: flags.format as Outputs['format'],
    cyclictestVersion: cyclictestVersionFromEnvironment(),
    histogram: flags.histogram !== undefined,
    jsonPath: flags.json === undefined ? null : checkOutputPath('json', flags.json),
    hdrLogPath: flags.hdrLog === undefined ? null : checkOutputPath('hdr-log', flags.hdrLog),
    reportPath: flags.report === undefined ? null : checkOutputPath('report', flags.report),
    quiet: flags.quiet ?? false,
  };
  if (outputs.hdrLogPath) probe.intervalNs = hdrIntervalNs;
  const verdict: VerdictRules = {
    bounds: flags.failAbove === undefined ? [] : parseFailAbove(flags.failAbove),
    failOnDropped: flags.failOnDropped ?? false,
    failOnDegraded: flags.failOnDegraded ?? false,
  };
  return { probe, outputs, load, verdict };
}

function cyclictestVersionFromEnvironment(): CyclictestVersion {
  try {
    return parseCyclictestVersion(process.env.RTLAT_CYCLICTEST_VERSION);
  } catch (error) {
    throw new UsageError(`RTLAT_CYCLICTEST_VERSION: ${(error as Error).message}`);
  }
}

function describeSpike(spike: Spike): string {
  return (
    `rtlat: spike T:${spike.thread}${spike.cpu === null ? '' : ` CPU:${spike.cpu}`} cycle ${spike.cycle} ` +
    `latency ${(spike.latencyNs / NS_PER_US).toFixed(1)}us at +${(spike.dueNs / NS_PER_S).toFixed(6)}s`
  );
}

async function measure(flags: MeasureFlags): Promise<number> {
  let hdrLog: HdrLogWriter | null = null;
  // The log's first failure: the log is dropped (nothing half-written stays), the run goes on, and the failure ends it with exit 1.
  let hdrLogFailure: unknown = null;
  try {
    const { probe: options, outputs, load, verdict } = parseMeasureFlags(flags);
    let probe: Probe | null = null;
    let status: StatusLine | null = null;
    const stop = new AbortController();
    const stopListening = onStopSignals(() => stop.abort());
    const run = await measureRun(
      { probe: options, load, commandLine: commandLine(), signal: stop.signal },
      {
        onSpike: (spike) => process.stderr.write(`${describeSpike(spike)}\n`),
        onInterval: (interval) => {
          try {
            hdrLog?.write(interval, probe!.config.threads[interval.thread]!.cpu);
          } catch (error) {
            hdrLogFailure = error;
            hdrLog = null;
          }
        },
        onStart: (started) => {
          probe = started;
          // Before the first drain, so before the first interval can arrive.
          if (outputs.hdrLogPath) {
            const intervals = { threads: started.config.threads.length, lengthNs: started.config.intervalNs };
            hdrLog = new HdrLogWriter(outputs.hdrLogPath, { startTime: started.startedAt, comment: commandLine(), intervals });
          }
          for (const refusal of started.degraded) process.stderr.write(`rtlat: DEGRADED: not permitted: ${refusal}\n`);
          status = outputs.quiet || !process.stdout.isTTY ? null : new StatusLine(started, process.stdout);
        },
        onStop: () => (status as StatusLine | null)?.clear(),
      },
    ).finally(stopListening);
    const written = hdrLog as HdrLogWriter | null;
    hdrLog = null;
    await writeOutputs(run, outputs, written);
    if (hdrLogFailure) throw hdrLogFailure;
    // Judged once every output is written, so that a failing CI lane still keeps its files.
    const failures = judgeRun(run, verdict);
    for (const failure of failures) process.stderr.write(`${failure}\n`);
    if (run.breaktrace) {
      const { thread, cpu, latencyNs, tracingStopped } = run.breaktrace;
      process.stderr.write(
        `rtlat: breaktrace: thread ${thread}${cpu === null ? '' : ` on CPU ${cpu}`} woke ${(latencyNs / NS_PER_US).toFixed(1)}us late; ` +
          `${tracingStopped ? 'ftrace stopped (tracing_on=0) after a trace_marker' : 'tracefs not reachable: no trace marker written'}\n`,
      );
      return failures.length ? EXIT.verdict : EXIT.breaktrace;
    }
    return failures.length ? EXIT.verdict : EXIT.ok;
  } catch (error) {
    (hdrLog as HdrLogWriter | null)?.abandon();
    return reportError('measure', error);
  }
}

/** Writes every requested output, each whole or not at all; then throws the first that failed, if any. */
async function writeOutputs(run: RunFile, outputs: Outputs, hdrLog: HdrLogWriter | null): Promise<void> {
  const stdout: string[] = [];
  // Like cyclictest -q -h, the histogram replaces the T: lines; rtlat's table still follows it.
  if (outputs.histogram) stdout.push(formatCyclictestHistogram(run, { version: outputs.cyclictestVersion }));
  else if (outputs.format === 'cyclictest') stdout.push(formatCyclictestSummary(run));
  if (outputs.format === 'table') stdout.push(formatSummaryTable(run));
  if (outputs.format === 'table' && run.load) stdout.push(`load ${run.load.spec} on CPUs ${formatCpuList(run.load.cpus)}: ${formatLoadWork(run.load)}\n`);
  const writes: (() => void)[] = [];
  if (outputs.jsonPath) writes.push(() => writeFileAtomic(outputs.jsonPath!, `${JSON.stringify(run, null, 2)}\n`));
  if (outputs.reportPath) {
    const runs = labelRuns([{ file: outputs.jsonPath ?? 'this run', run }]);
    writes.push(() => writeFileAtomic(outputs.reportPath!, renderReport(runs, { rtlatVersion: RTLAT_VERSION })));
  }
  if (hdrLog) writes.push(() => hdrLog.close());
  let failure: unknown = null;
  for (const write of writes) {
    try {
      write();
    } catch (error) {
      failure ??= error;
    }
  }
  await writeStdout(stdout.join(''));
  if (failure) throw failure;
}
