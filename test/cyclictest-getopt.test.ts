// rtlat's getopt_long against glibc's own: a small C program calls the real getopt_long with
// cyclictest's option table and prints what it returns; rtlat's emulation must return the same options,
// arguments and peeked elements, and the same error line, for every command line here.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getoptAll, GetoptError, getoptLong, shortOptions, type LongOption } from '../src/cyclictest/getopt.js';
import { longOptionsFor, OPTSTRING } from '../src/cyclictest/options.js';
import { parseCyclictestVersion } from '../src/cyclictest/version.js';
import { scratchDir } from './helpers/cli.js';
import { commandRuns, itWithTool, requireTool } from './helpers/tools.js';

const cc = requireTool('a C compiler', commandRuns('cc', ['--version']), 'apt-get install gcc');
const cyclictestTable = longOptionsFor(parseCyclictestVersion('2.4')).filter((option) => !option.exactOnly);

/** What rtlat's getopt gives, in the harness's words. */
function emulated(argv: string[], table: readonly LongOption[], env: NodeJS.ProcessEnv): string {
  let out = '';
  try {
    for (const option of getoptLong(argv, OPTSTRING, table, env)) {
      const id = option.spelling.startsWith('--') ? option.spelling.slice(2) : option.id;
      out += `${id}\t${option.argument ?? '(null)'}\t${option.next ?? '(end)'}\n`;
    }
    return out;
  } catch (error) {
    if (!(error instanceof GetoptError)) throw error;
    return `${out}?\nstderr: cyclictest: ${error.message}\n`;
  }
}

describe('getopt_long emulation, unit', () => {
  it('reads an optstring as glibc does', () => {
    const shorts = shortOptions('a::b:cD:D:');
    expect([...shorts]).toEqual([['a', 'optional'], ['b', 'required'], ['c', 'none'], ['D', 'required']]);
  });

  it('yields the options before an error, then throws where getopt_long reports it', () => {
    expect(() => getoptAll(['-q', '-z'], OPTSTRING, cyclictestTable)).toThrow(/^invalid option -- 'z'$/);
    const seen: string[] = [];
    expect(() => {
      for (const option of getoptLong(['-qm', '-zq'], OPTSTRING, cyclictestTable)) seen.push(option.id);
    }).toThrow(GetoptError);
    expect(seen).toEqual(['q', 'm']);
  });

  it('matches rtlat\'s additions only when spelled out, so cyclictest\'s prefixes keep their meaning', () => {
    const table = longOptionsFor(parseCyclictestVersion('2.10'));
    expect(getoptAll(['--c=1'], OPTSTRING, table).options[0]!.id).toBe('c');
    expect(getoptAll(['--cyclictest-version=2.4'], OPTSTRING, table).options[0]!.id).toBe('cyclictest-version');
    expect(() => getoptAll(['--rtlat-js=x'], OPTSTRING, table)).toThrow(/unrecognized option '--rtlat-js=x'/);
  });

  it('stops at the first non-option under POSIXLY_CORRECT, as glibc does', () => {
    const { options, operands } = getoptAll(['-q', '', '-m'], OPTSTRING, cyclictestTable, { POSIXLY_CORRECT: '1' });
    expect(options.map((option) => option.id)).toEqual(['q']);
    expect(operands).toEqual(['', '-m']);
  });
});

// Command lines as harnesses and people write them, and the corners of getopt_long.
const CASES: string[][] = [
  ['-i100', '-qmu', '-h 3500', '-p95', '-t2', '-a0-1', ''],
  ['-q', '-p', '98', '-i', '1000', '-t', '1', '-a', '0', '-D', '1m', '-m', '--json=out.json'],
  ['-l', '100', '-m', '-Sp90', '-i200', '-h400', '-q'],
  ['-S', '-p', '99', '-q', '-i', '100', '-d', '20', '-l', '100'],
  ['--mlockall', '--priority=95', '--interval=200', '--threads=2', '--affinity=0-1', '--histogram=30', '--quiet', '--duration=2', '--mainaffinity=0'],
  ['--priority', '95', '--interval', '200', '--threads', '2', '--affinity', '0-1', '--secaligned', '50'],
  ['-t', '-a', '-n'],
  ['-t', '3', '-a', 'all', '-A', '20', '--secaligned'],
  ['--int=200', '--dur', '10', '--hist=20'],
  ['--r'],
  ['--r=5'],
  ['--histo=20'],
  ['--laptop=1'],
  ['--json'],
  ['-i'],
  ['-i', '-5', '-q'],
  ['-qmz'],
  ['-am'],
  ['--', '-z'],
  ['-', '-q', 'x', '-m'],
  ['-h', '', '-q'],
  ['--spike=20', '--spike-nodes', '5', '--tracemark', '-b', '40'],
  ['--policy=rr', '--priospread', '-p', '80', '--latency=0', '--default-system', '--dbg_cyclictest'],
  ['-H30', '--histfile=h.txt', '-N', '-v', '-o', '10', '-M', '-c', '1', '-x', '-r', '-s', '-R', '-F', 'fifo'],
  ['--smp', '--nsecs', '--verbose', '--unbuffered', '--refresh_on_max', '--oscope=2', '--relative', '--system', '--resolution', '--posix_timers', '--smi', '--fifo=f'],
  ['--help'],
  ['--he'],
  ['--unknown'],
  ['--=x'],
  ['-:'],
];

describe('getopt_long emulation, against glibc', () => {
  const dir = scratchDir();
  const harness = path.join(dir, 'getopt-harness');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  itWithTool(cc, 'returns what glibc returns for every command line, with and without POSIXLY_CORRECT', () => {
    const build = spawnSync('cc', ['-O0', '-o', harness, path.join(import.meta.dirname, 'helpers/getopt-harness.c')], { encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
    const table = cyclictestTable.map((option) => `${option.name}:${option.argument[0]}`).join(',');
    for (const env of [{}, { POSIXLY_CORRECT: '1' }]) {
      for (const argv of CASES) {
        const real = spawnSync(harness, [table, OPTSTRING, 'cyclictest', ...argv], { encoding: 'utf8', env });
        const expected = real.stdout + (real.stderr ? `stderr: ${real.stderr}` : '');
        expect(emulated(argv, cyclictestTable, env), `${JSON.stringify(argv)} ${JSON.stringify(env)}`).toBe(expected);
      }
    }
  });

  it('has cases for every option of the table', () => {
    const spelled = new Set(CASES.flat());
    for (const option of cyclictestTable) {
      expect([...spelled].some((arg) => arg.startsWith(`--${option.name}`) || (option.id.length === 1 && new RegExp(`^-[^-]*${option.id}`).test(arg))), option.name).toBe(true);
    }
  });
});
