// `rtlat analyze RUN.json [...]`: pWCET-style bounds with their checks and convergence, and with
// --taskset the schedulability of a task set with the chosen bound as release jitter.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { OptionError } from '../errors.js';
import { analysisDocument, analyzeRun, type LatencyChoice } from '../measurement/analyze/analyze.js';
import { DEFAULT_PROBABILITIES } from '../measurement/analyze/pwcet.js';
import { parseTaskSet, type TaskSet } from '../measurement/analyze/schedulability/taskset.js';
import { formatAnalysis } from '../outputs/analyze.js';
import { writeFileAtomic } from '../outputs/atomic-file.js';
import { checkOutputPath } from '../outputs/output-path.js';
import { NS_PER_S, parseDurationNs, type DurationRule } from '../units.js';
import { reportError, UsageError } from './exit.js';
import { collect } from './options.js';
import { readRunFiles } from './run-files.js';
import { writeStdout } from './stdout.js';

interface AnalyzeFlags {
  probability?: string[];
  targetWidth?: string;
  json?: string;
  taskset?: string;
  latency?: string;
  blockSize?: string;
}

const LATENCY_RULE: DurationRule = { units: ['ns', 'us', 'ms', 's'], bareUnit: 'us', minNs: 1, maxNs: 10 * NS_PER_S, allowZero: true };
const DEFAULT_LATENCY = 'pwcet:1e-9';

function parseProbability(option: string, text: string): number {
  const value = Number(text.trim());
  if (text.trim() === '' || !(value > 0 && value < 1)) throw new OptionError(option, text, 'a probability per wake-up between 0 and 1, e.g. 1e-9');
  return value;
}

function parseBlockSize(text: string): number {
  const value = Number(text.trim());
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < 1) throw new OptionError('block-size', text, 'a number of wake-ups, a whole multiple of the blocks the run kept (e.g. 10000)');
  return value;
}

function parseLatency(text: string): LatencyChoice {
  if (text === 'max') return { kind: 'max' };
  const pwcet = /^pwcet:(.*)$/.exec(text);
  if (pwcet) return { kind: 'pwcet', probability: parseProbability('latency', pwcet[1]!) };
  try {
    return { kind: 'value', latencyNs: parseDurationNs('latency', text, LATENCY_RULE) };
  } catch {
    throw new OptionError('latency', text, 'max, pwcet:PROBABILITY (e.g. pwcet:1e-9) or a duration such as 150us');
  }
}

function readTaskSet(file: string): TaskSet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--taskset: cannot read ${JSON.stringify(file)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseTaskSet(file, text);
}

export function analyzeCommand(): Command {
  return new Command('analyze')
    .description('Bound the latency tail with extreme-value theory (pWCET-style, with confidence intervals and the checks that make them meaningful), and check a task set against the bound.')
    .argument('<files...>', 'run files (rtlat measure --json)')
    .option('--probability <p>', `exceedance probability per wake-up to bound; repeat or separate with commas (default ${DEFAULT_PROBABILITIES.join(',')})`, collect)
    .option('--target-width <time>', 'estimate the run length for each interval to narrow to this width (e.g. 10us)')
    .option('--block-size <wake-ups>', 'block maxima over longer blocks: this many wake-ups of each thread, a whole multiple of the blocks the run kept (default: as kept)')
    .option('--json <file>', 'write the whole analysis as JSON (docs/analyze.md)')
    .option('--taskset <file>', 'check this task set (JSON, docs/taskset.schema.json) with the latency bound as release jitter')
    .option('--latency <choice>', `with --taskset: the release latency, max, pwcet:PROBABILITY or a duration (default ${DEFAULT_LATENCY})`)
    .action(async (files: string[], flags: AnalyzeFlags) => {
      try {
        const probabilities = [...new Set((flags.probability ?? []).flatMap((value) => value.split(',')).map((value) => parseProbability('probability', value)))];
        const targetWidthNs = flags.targetWidth === undefined ? null : parseDurationNs('target-width', flags.targetWidth, { ...LATENCY_RULE, allowZero: false });
        const blockSize = flags.blockSize === undefined ? undefined : parseBlockSize(flags.blockSize);
        const jsonPath = flags.json === undefined ? null : checkOutputPath('json', flags.json);
        if (flags.latency !== undefined && flags.taskset === undefined) throw new UsageError('--latency is the release latency of a task set: give --taskset too');
        const taskSet = flags.taskset === undefined ? null : readTaskSet(flags.taskset);
        const latencyText = flags.latency ?? DEFAULT_LATENCY;
        const latency = parseLatency(latencyText);
        const wanted = probabilities.length ? probabilities : [...DEFAULT_PROBABILITIES];
        // A pWCET latency is one of the bounds: analyse its probability too.
        if (taskSet && latency.kind === 'pwcet' && !wanted.includes(latency.probability)) wanted.push(latency.probability);
        const options = { probabilities: wanted, targetWidthNs, taskSet, latency, latencyText, ...(blockSize !== undefined && { blockSize }) };
        const runs = readRunFiles(files).map(({ file, run }) => {
          try {
            return { file, analysis: analyzeRun(run, options) };
          } catch (error) {
            // A block size this run's blocks do not divide, or no usable bound for the latency: one line naming the file.
            if (error instanceof OptionError) throw new UsageError(`${file}: --${error.message}`);
            if (error instanceof RangeError) throw new UsageError(`${file}: --latency ${latencyText}: ${error.message}`);
            throw error;
          }
        });
        const document = analysisDocument(runs, options);
        if (jsonPath) writeFileAtomic(jsonPath, `${JSON.stringify(document, null, 2)}\n`);
        await writeStdout(formatAnalysis(document));
      } catch (error) {
        process.exitCode = reportError('analyze', error);
      }
    });
}
