// The --load spec and stress-ng's metrics, parsed without running anything.
import { describe, expect, it } from 'vitest';
import { OptionError } from '../src/errors.js';
import { formatLoadWork, parseLoadSpec } from '../src/load/index.js';
import { parseStressNgMetrics } from '../src/load/stress-ng.js';

describe('parseLoadSpec', () => {
  it('reads native kinds in order, and stress-ng with every argument after it', () => {
    expect(parseLoadSpec('syscalls').generators).toEqual([{ kind: 'syscalls' }]);
    expect(parseLoadSpec(' memory, io ,timers ').generators).toEqual([{ kind: 'memory' }, { kind: 'io' }, { kind: 'timers' }]);
    expect(parseLoadSpec('ipc,stress-ng:--switch 2  --hdd 1').generators).toEqual([
      { kind: 'ipc' },
      { kind: 'stress-ng', args: ['--switch', '2', '--hdd', '1'] },
    ]);
    // Commas after stress-ng: belong to its arguments.
    expect(parseLoadSpec('stress-ng:--taskset 0,1 --cpu 1').generators).toEqual([{ kind: 'stress-ng', args: ['--taskset', '0,1', '--cpu', '1'] }]);
    expect(parseLoadSpec(' syscalls,io ').text).toBe('syscalls,io');
  });

  const bad: [string, RegExp][] = [
    ['', /^load: got "", expected KIND\[,KIND\.\.\.\] of syscalls, ipc, timers, io, memory/],
    ['cpu', /^load: got "cpu", expected KIND/],
    ['syscalls,syscalls', /each once/],
    ['syscalls,,ipc', /expected KIND/],
    ['syscalls,', /expected KIND/],
    ['ipcstress-ng:--cpu 1', /expected KIND/],
    ['stress-ng:', /^load: got "stress-ng:", expected stressors after stress-ng:/],
    ['stress-ng:   ', /expected stressors after stress-ng:/],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${JSON.stringify(text)} with an OptionError naming --load`, () => {
      let error: unknown;
      try {
        parseLoadSpec(text);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(OptionError);
      expect((error as OptionError).option).toBe('load');
      expect((error as OptionError).message).toMatch(message);
    });
  }
});

describe('parseStressNgMetrics', () => {
  it('reads every stressor row of --metrics-brief and nothing else', () => {
    // stress-ng 0.15.06 (Debian 12), stopped with SIGTERM.
    const output = [
      'stress-ng: info:  [28205] defaulting to a 86400 second (1 day, 0.00 secs) run per stressor',
      'stress-ng: info:  [28205] dispatching hogs: 1 hdd, 1 cpu',
      'stress-ng: metrc: [28205] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s',
      'stress-ng: metrc: [28205]                           (secs)    (secs)    (secs)   (real time) (usr+sys time)',
      'stress-ng: metrc: [28205] hdd                9840      2.38      0.35      1.59      4138.24        5082.02',
      'stress-ng: metrc: [28205] cpu                3148      2.02      1.86      0.00      1556.31        1685.64',
      'stress-ng: metrc: [28205] miscellaneous metrics:',
      'stress-ng: metrc: [28205] hdd                    0.00 MB/sec read rate (geometic mean of 1 instances)',
      'stress-ng: metrc: [28205] hdd                  401.16 MB/sec write rate (geometic mean of 1 instances)',
      'stress-ng: info:  [28205] successful run completed in 2.39s',
    ].join('\n');
    expect(parseStressNgMetrics(output)).toEqual([
      { stressor: 'hdd', bogoOps: 9840, opsPerSecond: 4138.24 },
      { stressor: 'cpu', bogoOps: 3148, opsPerSecond: 1556.31 },
    ]);
  });

  it('reads the rows of stress-ng before 0.14, tagged info:', () => {
    const row = 'stress-ng: info:  [1234] switch          401234     10.00      0.52      7.01     40123.40     53284.73';
    expect(parseStressNgMetrics(row)).toEqual([{ stressor: 'switch', bogoOps: 401234, opsPerSecond: 40123.4 }]);
  });
});

describe('formatLoadWork', () => {
  it('adds up each kind over its CPUs and names what an operation is', () => {
    const line = formatLoadWork({
      spec: 'syscalls,io,stress-ng:--switch 1',
      cpus: [0, 1],
      generators: [
        { kind: 'syscalls', cpu: 0, operations: 10, opsPerSecond: 1_500_000 },
        { kind: 'syscalls', cpu: 1, operations: 10, opsPerSecond: 780_000 },
        { kind: 'io', cpu: 0, operations: 10, opsPerSecond: 2_288.4 },
        { kind: 'io', cpu: 1, operations: 10, opsPerSecond: 12 },
        { kind: 'stress-ng:switch', cpu: null, operations: 10, opsPerSecond: 112_785.79 },
      ],
    });
    expect(line).toBe('2.28M system calls/s, 2.3k writes+fsyncs/s, 112.8k switch bogo ops/s');
  });
});
