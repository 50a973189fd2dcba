// rtlat and the reference cyclictest, run one after the other with the same period, priority and CPUs:
// both complete and count the expected wake-ups. No latency is compared: the machine is a noisy guest.
import { spawnSync } from 'node:child_process';
import { describe, expect } from 'vitest';
import { commandRuns, itWithTool, requireTool } from './helpers/tools.js';
import { rtlat } from './helpers/cli.js';

const isRoot = process.getuid?.() === 0;
const cyclictest = requireTool('cyclictest', commandRuns('cyclictest', ['--help']) || commandRuns('which', ['cyclictest']), 'apt-get install rt-tests');
const SUMMARY = /^T:\s*(\d+) \(\s*\d+\) P:(\d+) I:(\d+) C:\s*(\d+) Min:\s*(\d+) Act:\s*\d+ Avg:\s*(\d+) Max:\s*(\d+)$/;

function parseSummary(stdout: string) {
  return stdout
    .split('\n')
    .map((line) => SUMMARY.exec(line))
    .filter((match) => match !== null)
    .map((match) => ({ thread: Number(match[1]), priority: Number(match[2]), intervalUs: Number(match[3]), count: Number(match[4]), minUs: Number(match[5]), maxUs: Number(match[7]) }));
}

describe.skipIf(!isRoot)('side by side with cyclictest (needs root)', () => {
  itWithTool(cyclictest, 'both complete the same periods on the same CPUs', () => {
    const loops = 500;
    // -d 0: cyclictest would otherwise lengthen each further thread's interval by 500us. cyclictest stops
    // every thread when the first reaches -l: --secaligned starts them together so both reach it.
    const reference = spawnSync('cyclictest', ['-m', '-p', '99', '-i', '500', '-l', String(loops), '-t', '2', '-a', '0,1', '-d', '0', '--secaligned', '-q'], { encoding: 'utf8', timeout: 30_000 });
    expect(reference.status).toBe(0);
    const ours = rtlat(['measure', '--period', '500us', '--loops', String(loops), '--cpus', '0,1', '--priority', '99', '--format', 'cyclictest']);
    expect(ours.status).toBe(0);
    const [theirs, mine] = [parseSummary(reference.stdout), parseSummary(ours.stdout)];
    expect(theirs).toHaveLength(2);
    expect(mine).toHaveLength(2);
    for (const side of [theirs, mine]) {
      expect(side.map((thread) => thread.thread)).toEqual([0, 1]);
      for (const thread of side) {
        expect(thread).toMatchObject({ priority: 99, intervalUs: 500, count: loops });
        expect(thread.minUs).toBeLessThanOrEqual(thread.maxUs);
      }
    }
  });
});
