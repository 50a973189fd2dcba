// `rtlat sweep`: one measurement per period, to expose timer-resolution latency (measurement/sweep.ts).
import { statSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { checkPeriods, runSweep } from '../measurement/sweep.js';
import { writeFileAtomic } from '../outputs/atomic-file.js';
import { checkOutputFolder, checkOutputPath } from '../outputs/output-path.js';
import { renderReport } from '../outputs/report/report.js';
import { writeRunFile } from '../outputs/run-json.js';
import { describeSweep, formatSweepSummary } from '../outputs/sweep.js';
import { labelRuns } from '../run-file/environment.js';
import { parseCpuList, parseDurationNs, PERIOD_RULE } from '../units.js';
import { RTLAT_VERSION } from '../version.js';
import { commandLine } from './command-line.js';
import { EXIT, reportError } from './exit.js';
import { addMeasureOptions, needs, parseMeasureFlags } from './options.js';
import { onStopSignals } from './signals.js';
import { writeStdout } from './stdout.js';

interface SweepFlags {
  periods: string;
  duration: string;
  threads?: string;
  cpus?: string;
  priority?: string;
  policy: string;
  clock: string;
  mlock: boolean;
  dmaLatency: boolean;
  allowDegraded?: boolean;
  load?: string;
  loadCpus?: string;
  withAndWithoutLoad?: boolean;
  json?: string;
  report?: string;
  quiet?: boolean;
}

export const DEFAULT_PERIODS = '50us,100us,200us,500us,1ms';

/** measure's options that a sweep shares; its period, length and outputs are its own. */
const SHARED_WITH_MEASURE = ['threads', 'cpus', 'priority', 'policy', 'clock', 'mlock', 'dmaLatency', 'allowDegraded', 'load', 'loadCpus'];

export function sweepCommand(): Command {
  const command = new Command('sweep')
    .description('Measure at several periods in turn and estimate the timer-resolution latency (where latencies stop exceeding the period).')
    .option('--periods <list>', 'periods to measure, e.g. 50us,100us,1ms (units ns, us, ms, s; a bare number is us)', DEFAULT_PERIODS)
    .option('-D, --duration <time>', 'how long to measure each period: s, m, h or d (a bare number is s)', '10s');
  return addMeasureOptions(command, (name) => SHARED_WITH_MEASURE.includes(name))
    .option('--with-and-without-load', 'measure each period twice, without and with --load')
    .option('--json <path>', 'write one run file per period: into a folder (an existing one, or DIR/, created: sweep-50us.json, ...), or beside any other name (NAME-50us.json, ...)')
    .option('--report <file>', 'write an HTML report of the sweep, with latency plotted against the period')
    .option('-q, --quiet', 'no progress lines')
    .action(async (flags: SweepFlags) => {
      process.exitCode = await sweep(flags);
    });
}

function parsePeriods(text: string): number[] {
  const periodsNs = text.split(',').map((item) => parseDurationNs('periods', item, PERIOD_RULE));
  checkPeriods(periodsNs, text);
  return periodsNs;
}

/**
 * Where the run of `label` goes: FOLDER/sweep-LABEL.json for a folder (one that exists, or a name
 * ending in "/", created), NAME-LABEL.json beside any other name.
 */
function jsonPaths(text: string): (label: string) => string {
  if (text.endsWith('/') || statSync(path.resolve(text), { throwIfNoEntry: false })?.isDirectory()) {
    const folder = checkOutputFolder('json', text);
    return (label) => path.join(folder, `sweep-${label}.json`);
  }
  const { dir, name } = path.parse(checkOutputPath('json', text));
  return (label) => path.join(dir, `${name}-${label}.json`);
}

async function sweep(flags: SweepFlags): Promise<number> {
  const stop = new AbortController();
  let stopListening = () => {};
  try {
    needs('with-and-without-load', flags.withAndWithoutLoad ?? false, 'load', flags.load !== undefined);
    needs('load-cpus', flags.loadCpus !== undefined, 'load', flags.load !== undefined);
    const periodsNs = parsePeriods(flags.periods);
    // measure's parser for the options they share; each case sets its own period.
    const { probe: options } = parseMeasureFlags({
      period: flags.periods.split(',')[0]!,
      duration: flags.duration,
      threads: flags.threads,
      cpus: flags.cpus,
      priority: flags.priority,
      policy: flags.policy,
      clock: flags.clock,
      mlock: flags.mlock,
      dmaLatency: flags.dmaLatency,
      allowDegraded: flags.allowDegraded,
      format: 'table',
      hdrInterval: '1s',
    });
    const { periodNs: _first, durationNs, ...shared } = options;
    // Set once the plan is checked.
    const outputs: { cases: number; jsonPathOf: ((label: string) => string) | null; reportPath: string | null } = { cases: 0, jsonPathOf: null, reportPath: null };
    const progress = !flags.quiet && process.stderr.isTTY;
    const warned = new Set<string>();
    const { plan, points } = await runSweep(
      {
        ...shared,
        periodsNs,
        durationNs: durationNs!,
        load: flags.load ?? null,
        loadCpus: flags.loadCpus === undefined ? null : parseCpuList('load-cpus', flags.loadCpus),
        withAndWithoutLoad: flags.withAndWithoutLoad ?? false,
        commandLine: commandLine(),
        signal: stop.signal,
      },
      {
        // The outputs are checked once every option is (a folder named DIR/ is created then).
        onStart: async (planned) => {
          outputs.cases = planned.cases.length;
          outputs.jsonPathOf = flags.json === undefined ? null : jsonPaths(flags.json);
          outputs.reportPath = flags.report === undefined ? null : checkOutputPath('report', flags.report);
          stopListening = onStopSignals(() => stop.abort());
          await writeStdout(describeSweep(planned));
        },
        onCase: (sweepCase, index) => {
          if (progress) process.stderr.write(`rtlat sweep: ${sweepCase.label} (${index + 1} of ${outputs.cases})\n`);
        },
        onRun: (run, sweepCase) => {
          for (const refusal of run.degraded.filter((refusal) => !warned.has(refusal))) {
            warned.add(refusal);
            process.stderr.write(`rtlat: DEGRADED: not permitted: ${refusal}\n`);
          }
          if (outputs.jsonPathOf) writeRunFile(outputs.jsonPathOf(sweepCase.label), run);
        },
      },
    );
    if (points.length > 0) await writeStdout(formatSweepSummary(points));
    if (outputs.reportPath && points.length > 0) {
      const runs = labelRuns(points.map((point, index) => ({ file: outputs.jsonPathOf?.(plan.cases[index]!.label) ?? plan.cases[index]!.label, run: point.run })));
      writeFileAtomic(outputs.reportPath, renderReport(runs, { title: 'rtlat sweep', rtlatVersion: RTLAT_VERSION, sweep: true }));
    }
    if (points.length < plan.cases.length) await writeStdout(`interrupted: ${points.length} of ${plan.cases.length} runs measured\n`);
    return EXIT.ok;
  } catch (error) {
    return reportError('sweep', error);
  } finally {
    stopListening();
  }
}
