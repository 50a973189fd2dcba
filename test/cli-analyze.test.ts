// `rtlat analyze` as a user runs it: text and --json, verdicts that follow the checks, the task set
// with --latency, and one-line errors with exit code 2.
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AnalysisDocument } from '../src/measurement/analyze/analyze.js';
import { rtlat, scratchDir } from './helpers/cli.js';
import { simulatedQuantileNs, simulatedRun } from './helpers/simulated-run.js';

let dir: string;
let iidFile: string;
let driftFile: string;

beforeAll(() => {
  dir = scratchDir();
  iidFile = path.join(dir, 'iid.json');
  driftFile = path.join(dir, 'drift.json');
  writeFileSync(iidFile, JSON.stringify(simulatedRun({ seeds: [3] })));
  writeFileSync(driftFile, JSON.stringify(simulatedRun({ seeds: [4], driftNs: 8_000 })));
});

function analysisOf(file: string): AnalysisDocument {
  return JSON.parse(readFileSync(file, 'utf8')) as AnalysisDocument;
}

describe('rtlat analyze', () => {
  it('bounds an i.i.d. run with trustworthy bounds whose intervals cover the true quantiles, in text and JSON', () => {
    const json = path.join(dir, 'iid-analysis.json');
    const outcome = rtlat(['analyze', iidFile, '--json', json, '--target-width', '1us']);
    expect(outcome.stderr).toBe('');
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toContain('ljung-box');
    expect(outcome.stdout).toContain('trustworthy');
    expect(outcome.stdout).not.toContain('NOT TRUSTWORTHY');
    const document = analysisOf(json);
    expect(document).toMatchObject({ schema: 'rtlat.analysis', schemaVersion: 1, probabilities: [1e-6, 1e-9, 1e-12], confidence: 0.95 });
    const run = document.runs[0]!;
    expect(run.threads).toHaveLength(1);
    for (const bound of run.all.bounds) {
      expect(Object.keys(bound).sort()).toEqual(['lowerNs', 'method', 'perHourProbability', 'probability', 'trustworthy', 'upperNs', 'valueNs', 'why'].sort());
      expect(bound.trustworthy).toBe(true);
      const truth = simulatedQuantileNs(bound.probability);
      expect(bound.lowerNs!).toBeLessThan(truth);
      expect(bound.upperNs!).toBeGreaterThan(truth);
    }
    expect(run.all.checks.map((check) => check.name)).toEqual(['ljung-box', 'runs', 'kpss', 'anderson-darling', 'anderson-darling']);
    expect(run.all.convergence.steps).toHaveLength(4);
    expect(run.all.convergence.needed).toHaveLength(6);
    expect(run.all.curve!.observed.length).toBeGreaterThan(10);
    expect(run.schedulability).toBeNull();
  }, 120_000);

  it('prints the bounds of a drifting run as not trustworthy, with why, and never as a confident number', () => {
    const json = path.join(dir, 'drift-analysis.json');
    const outcome = rtlat(['analyze', driftFile, '--probability', '1e-9', '--json', json]);
    expect(outcome.status).toBe(0);
    const boundLines = outcome.stdout.split('\n').filter((line) => /^\s+1e-9\s/.test(line));
    expect(boundLines).toHaveLength(2);
    for (const line of boundLines) {
      expect(line).toContain('NOT TRUSTWORTHY');
      expect(line).toMatch(/trend or shift|drifts/);
    }
    const bounds = analysisOf(json).runs[0]!.all.bounds;
    expect(bounds.map((bound) => [bound.probability, bound.trustworthy])).toEqual([[1e-9, false], [1e-9, false]]);
  }, 120_000);

  it('checks a task set with the pWCET bound as release jitter', () => {
    const tasks = path.join(dir, 'tasks.json');
    writeFileSync(tasks, JSON.stringify({ tasks: [{ name: 'ctl', wcet: '1ms', period: '4ms', priority: 2 }, { name: 'log', wcet: '2ms', period: '6ms', priority: 1 }], vcpu: { period: '2ms', budget: '1.8ms' } }));
    const json = path.join(dir, 'tasks-analysis.json');
    const outcome = rtlat(['analyze', iidFile, '--taskset', tasks, '--latency', 'pwcet:1e-9', '--probability', '1e-6', '--json', json]);
    expect(outcome.status).toBe(0);
    const { schedulability, all } = analysisOf(json).runs[0]!;
    // The probability of the latency is analysed too, and the larger upper end of its two bounds taken.
    const atLatency = all.bounds.filter((bound) => bound.probability === 1e-9);
    expect(atLatency).toHaveLength(2);
    expect(schedulability!.latencyBoundNs).toBe(Math.ceil(Math.max(...atLatency.map((bound) => bound.upperNs!))));
    expect(schedulability!.latency).toMatchObject({ choice: 'pwcet:1e-9', trustworthy: true });
    expect(schedulability!.tasks.map((task) => Object.keys(task).sort())).toEqual(
      Array(2).fill(['deadlineNs', 'name', 'periodNs', 'priority', 'responseTimeNs', 'schedulable', 'slackNs', 'wcetNs']),
    );
    expect(schedulability!.toleratedLatencyNs).toBeGreaterThan(0);
    expect(schedulability!.marginNs).toBe(schedulability!.toleratedLatencyNs! - schedulability!.latencyBoundNs);
    expect(schedulability!.minimumBudgetNs).toBeGreaterThan(0);
    expect(outcome.stdout).toContain('tolerated latency J*');
    expect(outcome.stdout).toContain('minimum vCPU budget at 2ms');
  }, 120_000);

  it('takes --latency max and a value', () => {
    const tasks = path.join(dir, 'edf.json');
    writeFileSync(tasks, JSON.stringify({ scheduler: 'edf', tasks: [{ wcet: '1ms', period: '4ms' }] }));
    for (const [latency, expected] of [['max', simulatedRun({ seeds: [3] }).all.maxNs], ['150us', 150_000]] as const) {
      const json = path.join(dir, `edf-${latency}.json`);
      expect(rtlat(['analyze', iidFile, '--taskset', tasks, '--latency', latency, '--probability', '1e-6', '--json', json]).status).toBe(0);
      const { schedulability } = analysisOf(json).runs[0]!;
      expect(schedulability!.latencyBoundNs).toBe(expected);
      // One task of 1 ms every 4 ms under EDF tolerates 3 ms of latency.
      expect(schedulability!.toleratedLatencyNs).toBe(3_000_000);
    }
  }, 120_000);

  it('--block-size: block maxima over longer blocks, so that spikes in every third block of the run no longer correlate', () => {
    // A spike every 6 s at 1 ms: every third of the 2 s blocks the run kept holds one, every 6 s block one.
    const file = path.join(dir, 'spikes.json');
    writeFileSync(file, JSON.stringify(simulatedRun({ seeds: [5], spikes: { everyCycles: 6_000, extraNs: 40_000 } })));
    const independence = (args: string[]) => {
      const json = path.join(dir, `spikes-${args.length}.json`);
      const outcome = rtlat(['analyze', file, '--probability', '1e-9', '--json', json, ...args]);
      expect(outcome.status, outcome.stderr).toBe(0);
      const { all } = analysisOf(json).runs[0]!;
      return { stdout: outcome.stdout, bm: all.bm, ljungBox: all.checks.find((check) => check.name === 'ljung-box')! };
    };
    const kept = independence([]);
    expect(kept.bm).toMatchObject({ blockSize: 2_000, blocks: 300 });
    expect(kept.ljungBox.passed).toBe(false);
    const longer = independence(['--block-size', '6000']);
    expect(longer.bm).toMatchObject({ blockSize: 6_000, blocks: 100 });
    expect(longer.ljungBox.passed).toBe(true);
    expect(longer.stdout).toContain('block maxima: 100 blocks of 6000 wake-ups');
  }, 120_000);

  it('says what a run file from before rtlat kept extremes lacks, without failing', () => {
    const old = simulatedRun({ count: 10_000 });
    delete old.threads[0]!.extremes;
    const file = path.join(dir, 'old.json');
    writeFileSync(file, JSON.stringify(old));
    const outcome = rtlat(['analyze', file]);
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toContain('from before rtlat kept block maxima and exceedances');
  });
});

describe('rtlat analyze refuses bad input in one line, with exit code 2', () => {
  it.each([
    [['--probability', '2'], /^rtlat analyze: --probability: got "2", expected a probability per wake-up between 0 and 1/],
    [['--latency', 'max'], /^rtlat analyze: --latency is the release latency of a task set: give --taskset too/],
    [['--taskset', '/nonexistent/tasks.json'], /^rtlat analyze: --taskset: cannot read "\/nonexistent\/tasks.json" \(ENOENT\)/],
    [['--target-width', 'wide'], /^rtlat analyze: --target-width: got "wide"/],
    [['--block-size', '0'], /^rtlat analyze: --block-size: got "0", expected a number of wake-ups, a whole multiple of the blocks the run kept/],
    [['--block-size', '3000'], /^rtlat analyze: \S+iid\.json: --block-size: got 3000, expected a whole multiple of the 2000 wake-ups each block of thread 0 holds\n$/],
  ])('%j', (args, message) => {
    const outcome = rtlat(['analyze', iidFile, ...args]);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toMatch(message);
    expect(outcome.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('names the task set file and the field', () => {
    const tasks = path.join(dir, 'bad-tasks.json');
    writeFileSync(tasks, JSON.stringify({ tasks: [{ name: 'ctl', wcet: '1ms', period: 4, priority: 1 }] }));
    const outcome = rtlat(['analyze', iidFile, '--taskset', tasks, '--latency', '10us']);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toBe(`rtlat analyze: ${tasks}: tasks[0].period: got 4, expected a duration string with a unit, e.g. "1ms"\n`);
  });

  it('names a file that is not a run file', () => {
    const outcome = rtlat(['analyze', path.join(dir, 'nothing.json')]);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toMatch(/^rtlat analyze: cannot read ".*nothing\.json" \(ENOENT\)\n$/);
  });
});

describe("the report's exceedance plot", () => {
  it('shows the tail of a run that kept its extremes, with the bounds and their verdicts, and says when it is not trustworthy', () => {
    const report = path.join(dir, 'report.html');
    expect(rtlat(['report', driftFile, '-o', report]).status).toBe(0);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('class="plot exceedance-plot"');
    expect(html).toContain('Latency bounds (extreme-value analysis, all threads)');
    expect(html).toContain('fitted GPD tail (NOT TRUSTWORTHY)');
    expect(html.match(/<td class="label">NOT TRUSTWORTHY: /g)).toHaveLength(6);
  }, 120_000);

  it('has none for a run without them', () => {
    const old = simulatedRun({ count: 10_000 });
    delete old.threads[0]!.extremes;
    const file = path.join(dir, 'old-report.json');
    writeFileSync(file, JSON.stringify(old));
    const report = path.join(dir, 'old-report.html');
    expect(rtlat(['report', file, '-o', report]).status).toBe(0);
    expect(readFileSync(report, 'utf8')).not.toContain('exceedance-plot');
  });
});
