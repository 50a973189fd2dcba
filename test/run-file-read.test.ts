// Run files read back (compare, merge, report) are checked against docs/run.schema.json and their
// histograms decoded first: a file that parses but has a wrong field is refused with exit 2, in one
// line that names the file and the field; merge will not write over one of its inputs, nor add a run
// to itself.
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunFile } from '../src/run-file/schema.js';
import { rtlat, scratchDir } from './helpers/cli.js';
import { range, runOf, threadOf, writeRuns } from './helpers/compare-runs.js';

const good = runOf([threadOf(0, range(1_000, 50_000, 7))]);
const later = { ...good, startTime: '2026-11-27T07:00:00.000Z', endTime: '2026-11-27T07:00:01.000Z' };

/** `good` with one change made to a copy, as a broken tool or a hand edit would leave it. */
function broken(change: (run: Record<string, any>) => void): RunFile {
  const copy = structuredClone(good) as Record<string, any>;
  change(copy);
  return copy as RunFile;
}

const CASES: [string, RunFile, RegExp][] = [
  ['null percentiles', broken((run) => (run.all.percentiles = null)), /bad\.json: not a valid run file: all\.percentiles must be array, got null$/],
  ['a count that is a string', broken((run) => (run.threads[0].count = '12')), /bad\.json: not a valid run file: threads\[0\]\.count must be integer, got "12"$/],
  ['a histogram that does not decode', broken((run) => (run.threads[0].histogram = 'HISTFAAAA')), /bad\.json: not a valid run file: threads\[0\]\.histogram is not an HdrHistogram \(.+\)$/],
  ['a histogram that is not base64', broken((run) => (run.all.histogram = 'not a histogram')), /bad\.json: not a valid run file: all\.histogram must match pattern .*, got "not a histogram"$/],
  ['a missing field', broken((run) => delete run.config.periodNs), /bad\.json: not a valid run file: config\.periodNs is missing$/],
  ['a field the schema does not have', broken((run) => (run.threads[0].latency = 1)), /bad\.json: not a valid run file: threads\[0\]\.latency is not a field of the schema$/],
  ['an unknown stop reason', broken((run) => (run.stoppedBy = 'crashed')), /bad\.json: not a valid run file: stoppedBy must be equal to one of the allowed values \(.*"signal"\), got "crashed"$/],
];

describe('run files read back', () => {
  const dir = scratchDir();
  const [goodFile, laterFile] = writeRuns(dir, { good, later });

  describe.each(CASES)('with %s', (_, run, message) => {
    const bad = path.join(dir, 'bad.json');
    const commands: [string, () => string[]][] = [
      ['compare', () => ['compare', goodFile!, bad]],
      ['merge', () => ['merge', goodFile!, bad, '-o', path.join(dir, 'merged.json')]],
      ['report', () => ['report', bad, '-o', path.join(dir, 'report.html')]],
    ];
    it.each(commands)('%s refuses it in one line naming the file and the field, exit 2', (command, args) => {
      writeFileSync(bad, JSON.stringify(run));
      const outcome = rtlat(args());
      expect(outcome.status).toBe(2);
      expect(outcome.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(outcome.stderr.trimEnd()).toMatch(new RegExp(`^rtlat ${command}: `));
      expect(outcome.stderr.trimEnd()).toMatch(message);
      expect(outcome.stdout).toBe('');
      expect(existsSync(path.join(dir, 'merged.json'))).toBe(false);
      expect(existsSync(path.join(dir, 'report.html'))).toBe(false);
    });
  });

  it('merge refuses to write over one of its inputs, through a link too, and leaves it as it was', () => {
    const before = readFileSync(goodFile!, 'utf8');
    const link = path.join(dir, 'link-to-good.json');
    symlinkSync(goodFile!, link);
    for (const output of [goodFile!, link, path.join(dir, '.', path.basename(laterFile!))]) {
      const outcome = rtlat(['merge', goodFile!, laterFile!, '-o', output]);
      expect(outcome.status).toBe(2);
      expect(outcome.stderr).toMatch(/^rtlat merge: --output: got ".*", expected a file other than the inputs \(it is .*(good|later)\.json\)\n$/);
    }
    expect(readFileSync(goodFile!, 'utf8')).toBe(before);
  });

  it('merge says when the same run is given twice, as one file or as a copy, and writes nothing', () => {
    const copy = path.join(dir, 'copy-of-good.json');
    writeFileSync(copy, readFileSync(goodFile!));
    const output = path.join(dir, 'twice.json');
    for (const files of [[goodFile!, goodFile!], [goodFile!, laterFile!, copy]]) {
      const outcome = rtlat(['merge', ...files, '-o', output]);
      expect(outcome.status).toBe(2);
      expect(outcome.stderr).toMatch(/^rtlat merge: good\.json and (good|copy-of-good)\.json are the same run \(started 2026-11-27T06:16:32\.000Z, the same samples\): merging it twice would count each sample twice\n$/);
      expect(existsSync(output)).toBe(false);
    }
    expect(rtlat(['merge', goodFile!, laterFile!, '-o', output]).status).toBe(0);
  });
});
