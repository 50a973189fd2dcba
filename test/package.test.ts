// What `npm install rtlat` gives a user: this tree packed (npm pack) and installed into an empty
// project (npm install ./rtlat-*.tgz, which builds the addon there), then used as a user would, with
// npx. Its dependencies are hoisted beside it, and prom-client, an optional peer, is not installed:
// every command but serve works without it, and serve and rtlat/prometheus say to install it. A guest
// boots from that install too (TCG, Debian's cloud kernel).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunFile, RunQemuGuest } from '../src/run-file/schema.js';
import { scratchDir, type CliOutcome } from './helpers/cli.js';
import { guestTools, testKernels } from './helpers/guest.js';
import { itWithTool } from './helpers/tools.js';

const root = path.resolve(import.meta.dirname, '..');
const INSTALL_TIMEOUT_MS = 300_000;

/** The environment without what `npm test` adds (npm_config_*, npm_lifecycle_*, ...): the packed install is a user's own npm run. */
function userEnvironment(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name))), ...extra };
}

function run(command: string, args: string[], cwd: string, options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): CliOutcome {
  const child = spawnSync(command, args, { cwd, encoding: 'utf8', env: options.env ?? userEnvironment(), timeout: options.timeoutMs ?? 60_000 });
  if (child.error) throw child.error;
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

function succeeded(outcome: CliOutcome, what: string): string {
  if (outcome.status !== 0) throw new Error(`${what} failed (exit ${outcome.status}):\n${outcome.stderr.slice(-4000)}`);
  return outcome.stdout;
}

function expectOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

describe('rtlat packed and installed into another project', () => {
  let project: string;
  /** `npx rtlat args...` in the project. */
  const npxRtlat = (args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) => run('npx', ['--no', '--', 'rtlat', ...args], project, options);
  /** The project's node_modules/.bin/rtlat, what npx runs, without npx's second of start-up. */
  const binRtlat = (args: string[]) => run(path.join(project, 'node_modules/.bin/rtlat'), args, project);

  beforeAll(() => {
    const packed = scratchDir();
    // dist/ is built (npm test runs tsc first): the tarball takes it as it is.
    const tarball = succeeded(run('npm', ['pack', '--ignore-scripts', '--pack-destination', packed], root), 'npm pack').trim().split('\n').at(-1)!;
    project = scratchDir();
    writeFileSync(path.join(project, 'package.json'), `${JSON.stringify({ name: 'uses-rtlat', version: '1.0.0', private: true, type: 'module' })}\n`);
    succeeded(run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(packed, tarball)], project, { timeoutMs: INSTALL_TIMEOUT_MS }), 'npm install');
  }, INSTALL_TIMEOUT_MS);

  it('is installed with its dependencies hoisted beside it, its addon built, and without the optional prom-client', () => {
    const installed = readdirSync(path.join(project, 'node_modules'));
    expect(installed).toEqual(expect.arrayContaining(['rtlat', 'commander', 'hdr-histogram-js']));
    expect(existsSync(path.join(project, 'node_modules/rtlat/node_modules/commander'))).toBe(false);
    expect(existsSync(path.join(project, 'node_modules/rtlat/build/Release/rtlat.node'))).toBe(true);
    expect(installed).not.toContain('prom-client');
  });

  it('runs every command\'s --help and a measurement without prom-client', () => {
    const help = npxRtlat(['--help']);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stderr).toBe('');
    const commands = [...help.stdout.matchAll(/^ {2}([a-z]+) /gm)].map((match) => match[1]!).filter((name) => name !== 'help');
    expect(commands).toEqual(expect.arrayContaining(['measure', 'guest', 'serve']));
    for (const command of commands) {
      const outcome = binRtlat([command, '--help']);
      expect(outcome.status, `${command}: ${outcome.stderr}`).toBe(0);
      expect(outcome.stdout).toMatch(new RegExp(`^Usage: rtlat ${command} `));
    }
    const json = path.join(project, 'run.json');
    const measured = npxRtlat(['measure', '--period', '1ms', '--loops', '20', '--cpus', '0', '--allow-degraded', '--json', json, '--quiet']);
    expect(measured.status, measured.stderr).toBe(0);
    expect((JSON.parse(readFileSync(json, 'utf8')) as RunFile).all.count).toBe(20);
  }, 120_000); // a dozen processes, each starting Node

  it('serve says to install prom-client, in one line, before measuring', () => {
    const outcome = npxRtlat(['serve', '--port', '0']);
    expect(outcome.status).toBe(1);
    expect(outcome.stdout).toBe('');
    expectOneLine(outcome.stderr, /^rtlat serve: prom-client is not installed: install prom-client \(npm install prom-client\)/);
  });

  it('rtlat/prometheus fails to import with the same line; the main entry imports', () => {
    const script = `
      const { Probe } = await import('rtlat');
      console.log(typeof Probe);
      try { await import('rtlat/prometheus'); console.log('imported'); } catch (error) { console.log(error.message); }`;
    const outcome = run(process.execPath, ['--input-type=module', '-e', script], project);
    expect(outcome.stderr).toBe('');
    const [probe, prometheus] = outcome.stdout.trimEnd().split('\n');
    expect(probe).toBe('function');
    expect(prometheus).toMatch(/^prom-client is not installed: install prom-client \(npm install prom-client\)/);
  });

  itWithTool(guestTools, 'boots a guest that runs the installed rtlat (its hoisted dependencies included)', () => {
    const { nrt } = testKernels();
    const out = scratchDir();
    const json = path.join(out, 'guest.json');
    // A cache of its own: the base image of this install would replace the one the other guest tests reuse.
    const env = userEnvironment({ RTLAT_CACHE_DIR: path.join(out, 'cache'), TMPDIR: scratchDir() });
    const outcome = npxRtlat(['guest', '--kernel', nrt, '--accel', 'tcg', '--loops', '20', '--period', '1ms', '--json', json, '--quiet'], { env, timeoutMs: 240_000 });
    expect(outcome.status, outcome.stderr).toBe(0);
    const guestRun = JSON.parse(readFileSync(json, 'utf8')) as RunFile;
    expect(guestRun.all.count).toBe(20);
    expect((guestRun.guest as RunQemuGuest | null)?.accelerator).toBe('tcg');
    expect(readdirSync(env.TMPDIR!)).toEqual([]);
  }, 300_000);
});
