// `rtlat measure`: cyclictest's job from one command, with its outputs and rtlat's.
import { Command } from 'commander';
import { measureRun, type LiveMeasurement } from '../measurement/measure.js';
import { judgeRun } from '../measurement/verdict.js';
import { writeFileAtomic } from '../outputs/atomic-file.js';
import { HdrLogWriter } from '../outputs/hdr-log.js';
import { formatExplain } from '../outputs/explain.js';
import { formatMeasureStdout } from '../outputs/measure-stdout.js';
import { renderReport } from '../outputs/report/report.js';
import { writeRunFile } from '../outputs/run-json.js';
import { labelRuns } from '../run-file/environment.js';
import type { RunFile, Spike } from '../run-file/schema.js';
import { NS_PER_S, NS_PER_US } from '../units.js';
import { RTLAT_VERSION } from '../version.js';
import { commandLine } from './command-line.js';
import { EXIT, reportError } from './exit.js';
import { measureOptions, parseMeasureFlags, type MeasureFlags, type MeasureOutputs } from './options.js';
import { onStopSignals } from './signals.js';
import { StatusLine } from './status.js';
import { writeStdout } from './stdout.js';

export function measureCommand(): Command {
  const command = new Command('measure').description('Measure wake-up latency like cyclictest: periodic threads, one per CPU by default.');
  for (const option of measureOptions()) command.addOption(option);
  return command.action(async (flags: MeasureFlags) => {
    // cyclictest's -q prints its T: lines; rtlat's only hides the live status. Said when stdout is all there is.
    const filesOnly = flags.json !== undefined || flags.report !== undefined || flags.hdrLog !== undefined;
    if (flags.quiet && !filesOnly && command.getOptionValueSource('format') === 'default') {
      process.stderr.write("rtlat measure: hint: -q only hides the live status line; for cyclictest's T: lines add --format cyclictest, or run `rtlat cyclictest -q ...`\n");
    }
    process.exitCode = await measure(flags);
  });
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
  const stop = new AbortController();
  const stopListening = onStopSignals(() => stop.abort());
  try {
    const { probe: options, outputs, load, verdict, explain } = parseMeasureFlags(flags);
    let status: StatusLine | null = null;
    const run = await measureRun(
      { ...options, load: load?.spec ?? null, loadCpus: load?.cpus ?? null, commandLine: commandLine(), signal: stop.signal, explain },
      {
        onSpike: (spike) => process.stderr.write(`${describeSpike(spike)}\n`),
        onInterval: (interval, cpu) => {
          try {
            hdrLog?.write(interval, cpu);
          } catch (error) {
            hdrLogFailure = error;
            hdrLog = null;
          }
        },
        onStart: (measuring: LiveMeasurement) => {
          // Before the first drain, so before the first interval can arrive.
          if (outputs.hdrLogPath) {
            const intervals = { threads: measuring.config.threads.length, lengthNs: measuring.config.intervalNs };
            hdrLog = new HdrLogWriter(outputs.hdrLogPath, { startTime: measuring.startedAt, comment: commandLine(), intervals });
          }
          for (const refusal of measuring.degraded) process.stderr.write(`rtlat: DEGRADED: not permitted: ${refusal}\n`);
          status = outputs.quiet || !process.stdout.isTTY ? null : new StatusLine(measuring, process.stdout);
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
  } finally {
    stopListening();
  }
}

/** Writes every requested output, each whole or not at all; then throws the first that failed, if any. */
async function writeOutputs(run: RunFile, outputs: MeasureOutputs, hdrLog: HdrLogWriter | null): Promise<void> {
  const writes: (() => void)[] = [];
  if (outputs.jsonPath) writes.push(() => writeRunFile(outputs.jsonPath!, run));
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
  await writeStdout(formatMeasureStdout(run, outputs));
  // cyclictest's format keeps stdout to what cyclictest prints; the explanation goes beside it.
  if (run.explain && outputs.format !== 'table') process.stderr.write(formatExplain(run.explain));
  if (failure) throw failure;
}
