// Every file rtlat writes is whole or absent, and every failure to write is one line naming the output
// (exit 1), met where a user meets it: a full disk (a small tmpfs of the test's own), a read-only
// folder, a symbolic link, a link to /proc/self/fd/1 (never /dev/stdout itself: as root, a writer that
// renames over its path would replace it), a FIFO, and a pipe whose reader went away.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunFile } from '../src/run-file/schema.js';
import { rtlat, RTLAT_BIN, scratchDir, type CliOutcome } from './helpers/cli.js';
import { FIXTURES } from './helpers/runs.js';
import { canMount, MOUNT_NOTE, smallTmpfs, type SmallFileSystem } from './helpers/tmpfs.js';

const MEASURE = ['measure', '--period', '1ms', '--loops', '20', '--cpus', '0', '-q'];
const mounted: SmallFileSystem[] = [];

function tmpfs(options: Parameters<typeof smallTmpfs>[0]): string {
  const fs = smallTmpfs(options);
  mounted.push(fs);
  return fs.dir;
}

afterAll(() => {
  for (const fs of mounted) fs.unmount();
});

/** Files a writer left behind: its temporary files start with a dot and end in .tmp. */
function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.tmp'));
}

/** The one line a failed output ends in. */
function expectCannotWrite(outcome: CliOutcome, command: string, file: string, code: string): void {
  expect(outcome.status).toBe(1);
  const lines = outcome.stderr.trimEnd().split('\n');
  expect(lines.at(-1)).toMatch(new RegExp(`^rtlat ${command}: cannot write ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .+ \\(${code}\\)$`));
  expect(outcome.stderr).not.toMatch(/\n\s+at |Unhandled|Error:/);
}

/** Runs rtlat with stdout on `fd` (a file, say), stderr captured. */
function rtlatWithStdout(args: string[], fd: number, cwd?: string): CliOutcome {
  const child = spawnSync(process.execPath, [RTLAT_BIN, ...args], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', timeout: 60_000, cwd });
  return { status: child.status, stdout: '', stderr: child.stderr };
}

/** Runs rtlat with stdout a pipe whose reading end is closed at once, as `| head` does once it has enough. */
function rtlatIntoClosedPipe(args: string[]): Promise<CliOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RTLAT_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout: '', stderr }));
  });
}

describe('outputs on a full disk', () => {
  const dir = scratchDir();
  let runFile = '';
  let laterRunFile = '';
  beforeAll(() => {
    runFile = path.join(dir, 'run.json');
    laterRunFile = path.join(dir, 'later.json');
    expect(rtlat([...MEASURE, '--json', runFile]).status).toBe(0);
    expect(rtlat([...MEASURE, '--json', laterRunFile]).status).toBe(0);
  });

  // One page (4 KiB) left: each of these outputs is larger, so its write fails partway, after a short write.
  const partway: [string, (out: string) => string[]][] = [
    ['measure --json', (out) => [...MEASURE, '--json', out]],
    ['measure --report', (out) => [...MEASURE, '--report', out]],
    ['measure --hdr-log', (out) => ['measure', '--period', '1ms', '--duration', '1s', '--cpus', '0', '-q', '--hdr-interval', '10ms', '--hdr-log', out]],
    ['report -o', (out) => ['report', runFile, '-o', out]],
    ['merge -o', (out) => ['merge', runFile, laterRunFile, '-o', out]],
    ['sweep --json', (out) => ['sweep', '--periods', '1ms', '--duration', '1s', '--cpus', '0', '-q', '--json', out]],
  ];
  it.skipIf(!canMount).each(partway)(`%s: one line naming the output, exit 1, no file and no temporary file left${MOUNT_NOTE}`, (name, args) => {
    const full = tmpfs({ freePages: 1 });
    const out = path.join(full, 'out.json');
    const outcome = rtlat(args(out));
    const command = name.split(' ')[0]!;
    // sweep names its file after the period.
    expectCannotWrite(outcome, command, command === 'sweep' ? path.join(full, 'out-1ms.json') : out, 'ENOSPC');
    expect(readdirSync(full)).toEqual(['filler']);
  });

  it.skipIf(!canMount)(`measure: the outputs that fit are still written whole when another one fails${MOUNT_NOTE}`, () => {
    const full = tmpfs({ freePages: 1 });
    const json = path.join(dir, 'beside-the-log.json');
    const outcome = rtlat(['measure', '--period', '1ms', '--duration', '1s', '--cpus', '0', '-q', '--hdr-interval', '10ms', '--hdr-log', path.join(full, 'x.hlog'), '--json', json]);
    expectCannotWrite(outcome, 'measure', path.join(full, 'x.hlog'), 'ENOSPC');
    expect((JSON.parse(readFileSync(json, 'utf8')) as RunFile).all.count).toBeGreaterThan(0);
    expect(outcome.stdout).toMatch(/^rtlat .*latencies in us\n/);
    expect(leftovers(full)).toEqual([]);
  });

  it.skipIf(!canMount)(`import -o: no room for one more file is one line, exit 1${MOUNT_NOTE}`, () => {
    // The root folder and the filler take both inodes: creating the temporary file fails.
    const full = tmpfs({ freePages: 4, inodes: 2 });
    const out = path.join(full, 'imported.json');
    expectCannotWrite(rtlat(['import', 'cyclictest', path.join(FIXTURES, 'run-histogram.json'), '-o', out]), 'import', out, 'ENOSPC');
    expect(readdirSync(full)).toEqual(['filler']);
  });

  it.skipIf(!canMount)(`compare, import and measure with stdout on a full disk: one line naming stdout, exit 1${MOUNT_NOTE}`, () => {
    const full = tmpfs({ freePages: 0 });
    for (const args of [['compare', runFile, laterRunFile, '--format', 'json'], ['import', 'cyclictest', path.join(FIXTURES, 'run.json')], MEASURE]) {
      const fd = openSync(path.join(full, 'stdout.txt'), 'w');
      try {
        expectCannotWrite(rtlatWithStdout(args, fd), args[0]!, 'stdout', 'ENOSPC');
      } finally {
        closeSync(fd);
      }
    }
  });

  // Before anything is measured or booted: the full disk is found by the checks up front.
  const upFront: [string, (out: string) => string[], string][] = [
    ['measure --json', (out) => [...MEASURE, '--json', path.join(out, 'run.json')], 'json'],
    ['guest --json', (out) => ['guest', '--kernel', '/nonexistent/vmlinuz', '--json', path.join(out, 'guest.json')], 'json'],
    ['guest --report', (out) => ['guest', '--kernel', '/nonexistent/vmlinuz', '--report', path.join(out, 'guest.html')], 'report'],
    ['matrix -o', (out) => ['matrix', '--container', 'rtlat-never-started', '-o', out], 'output'],
    ['sweep --json', (out) => ['sweep', '--json', `${out}/`], 'json'],
  ];
  it.skipIf(!canMount).each(upFront)(`%s on a full disk is refused before measuring: exit 2, one line naming the option and ENOSPC${MOUNT_NOTE}`, (_, args, option) => {
    const full = tmpfs({ freePages: 0 });
    const outcome = rtlat(args(full));
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toMatch(new RegExp(`^rtlat \\w+: --${option}: got ".*", expected .*; ${full}: no space left on device \\(ENOSPC\\)\\n$`));
    expect(outcome.stdout).toBe('');
    expect(readdirSync(full)).toEqual(['filler']);
  });

  it.skipIf(!canMount)(`matrix -o on a read-only folder is refused before the host is measured${MOUNT_NOTE}`, () => {
    const readOnly = tmpfs({ freePages: 8, readOnly: true });
    const outcome = rtlat(['matrix', '--container', 'rtlat-never-started', '-o', readOnly]);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toMatch(/^rtlat matrix: --output: got ".*", expected a folder rtlat can create or write into; .*: read-only file system \(EROFS\)\n$/);
    expect(outcome.stderr).not.toMatch(/measuring/);
  });
});

describe('serve --hdr-log on a full disk', () => {
  it.skipIf(!canMount)(`keeps serving, says so once on stderr, counts the failures in rtlat_hdr_log_errors_total, leaves no temporary file${MOUNT_NOTE}`, async () => {
    const full = tmpfs({ freePages: 1 });
    const child = spawn(process.execPath, [RTLAT_BIN, 'serve', '--port', '0', '--cpus', '0', '--period', '1ms', '--hdr-interval', '10ms', '--hdr-log', path.join(full, 'latency.hlog')]);
    try {
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const until = async (done: () => boolean) => {
        while (!done()) await new Promise((resolve) => setTimeout(resolve, 50));
      };
      await until(() => /serving http/.test(stdout) && stderr.includes('\n'));
      const base = /serving (http:\/\/[^/]+:\d+)\//.exec(stdout)![1]!;
      // Each interval tries a new file, and fails again: the metric grows, the message stays one line.
      let failures = 0;
      for (let tries = 0; failures < 3 && tries < 100; tries++) {
        const metrics = await (await fetch(`${base}/metrics`)).text();
        failures = Number(/^rtlat_hdr_log_errors_total (\d+)$/m.exec(metrics)?.[1] ?? 0);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(failures).toBeGreaterThanOrEqual(3);
      expect((await fetch(`${base}/snapshot`)).status).toBe(200);
      expect(stderr).toMatch(new RegExp(`^rtlat serve: cannot write ${full}/latency.hlog: no space left on device \\(ENOSPC\\); serving goes on, .*rtlat_hdr_log_errors_total.*\\n$`));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      // The log lost data: the status says so.
      expect(await exited).toBe(1);
      expect(leftovers(full)).toEqual([]);
      // The file of the last attempt, if it fitted, is whole: a header and complete intervals.
      const log = path.join(full, 'latency.hlog');
      if (existsSync(log)) {
        const text = readFileSync(log, 'utf8');
        expect(text).toMatch(/^#rtlat .*\n#\[Histogram log format version 1\.3\]\n/);
        const reader = new hdr.HistogramLogReader(text);
        let intervals = 0;
        while (reader.nextIntervalHistogram()) intervals++;
        expect(intervals).toBe(text.split('\n').filter((line) => /^(Tag=[^,]*,)?\d/.test(line)).length);
        expect(text.endsWith('\n')).toBe(true);
      }
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});

describe('outputs behind links, devices and pipes', () => {
  const dir = scratchDir();

  it('--json through a link writes the link\'s target, beside the target, and leaves the link a link', () => {
    const targets = path.join(dir, 'targets');
    mkdirSync(targets);
    const link = path.join(dir, 'run-link.json');
    symlinkSync(path.join(targets, 'run.json'), link);
    // A dangling link first: the target is created; then an existing target is replaced.
    for (let round = 0; round < 2; round++) {
      expect(rtlat([...MEASURE, '--json', link]).status).toBe(0);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect((JSON.parse(readFileSync(path.join(targets, 'run.json'), 'utf8')) as RunFile).all.count).toBe(20);
    }
    expect([...leftovers(dir), ...leftovers(targets)]).toEqual([]);
  });

  it.skipIf(!canMount)(`the temporary file goes beside the link's target: a link in a read-only folder still works${MOUNT_NOTE}`, () => {
    const staging = scratchDir();
    symlinkSync(path.join(dir, 'from-read-only.json'), path.join(staging, 'link.json'));
    const readOnly = tmpfs({ freePages: 8 });
    // Move the link onto the tmpfs, then make it read-only.
    spawnSync('cp', ['-P', path.join(staging, 'link.json'), readOnly]);
    spawnSync('mount', ['-o', 'remount,ro', readOnly]);
    expect(rtlat([...MEASURE, '--json', path.join(readOnly, 'link.json')]).status).toBe(0);
    expect((JSON.parse(readFileSync(path.join(dir, 'from-read-only.json'), 'utf8')) as RunFile).all.count).toBe(20);
  });

  it('a link of one\'s own to /proc/self/fd/1 (the cyclictest idiom) writes to stdout, and stays a link', () => {
    const link = path.join(dir, 'stdout-link');
    symlinkSync('/proc/self/fd/1', link);
    const outcome = rtlat([...MEASURE, '--format', 'cyclictest', '--json', link]);
    expect(outcome.status).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    // The run file first, then the summary: both on the same stdout.
    const json = outcome.stdout.slice(0, outcome.stdout.lastIndexOf('}\n') + 2);
    expect((JSON.parse(json) as RunFile).all.count).toBe(20);
    expect(outcome.stdout.slice(json.length)).toMatch(/^(# \/dev\/cpu_dma_latency set to 0us\n)?T: 0 \(/);
  });

  it('the same link with stdout redirected to a file: run file and summary both land in the file, in order', () => {
    const link = path.join(dir, 'stdout-link-2');
    symlinkSync('/proc/self/fd/1', link);
    const file = path.join(dir, 'redirected.txt');
    const fd = openSync(file, 'w');
    try {
      expect(rtlatWithStdout([...MEASURE, '--format', 'cyclictest', '--json', link], fd).status).toBe(0);
    } finally {
      closeSync(fd);
    }
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^\{\n {2}"schema": "rtlat.run"/);
    expect(text).toMatch(/\n}\n(# \/dev\/cpu_dma_latency set to 0us\n)?T: 0 \(/);
  });

  it('a FIFO is written as a stream, and stays a FIFO', async () => {
    const fifo = path.join(dir, 'run.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = spawn('cat', [fifo]);
    let received = '';
    reader.stdout.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise((resolve) => reader.on('close', resolve));
    expect(rtlat([...MEASURE, '--json', fifo]).status).toBe(0);
    await closed;
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect((JSON.parse(received) as RunFile).all.count).toBe(20);
  });

  it('a closed pipe (| head) ends each command silently with 141, as SIGPIPE ends a Unix tool; files are still whole', async () => {
    const runFile = path.join(dir, 'before-the-pipe.json');
    const link = path.join(dir, 'stdout-link-3');
    symlinkSync('/proc/self/fd/1', link);
    const commands = [
      ['compare', path.join(dir, 'run-link.json'), path.join(dir, 'run-link.json'), '--format', 'json'],
      ['import', 'cyclictest', path.join(FIXTURES, 'run-histogram.json')],
      ['info', '--json'],
      ['--help'],
      [...MEASURE, '--json', runFile],
      [...MEASURE, '--json', link],
    ];
    for (const args of commands) {
      const outcome = await rtlatIntoClosedPipe(args);
      expect(outcome, args.join(' ')).toEqual({ status: 141, stdout: '', stderr: '' });
    }
    expect((JSON.parse(readFileSync(runFile, 'utf8')) as RunFile).all.count).toBe(20);
  });

  it('sweep --json NAME/ creates the folder and writes into it (not NAME-1ms.json beside it)', () => {
    const cwd = scratchDir();
    const child = spawnSync(process.execPath, [RTLAT_BIN, 'sweep', '--periods', '1ms', '--duration', '1s', '--cpus', '0', '-q', '--json', 'newdir/'], { cwd, encoding: 'utf8', timeout: 60_000 });
    expect(child.status).toBe(0);
    expect(readdirSync(cwd)).toEqual(['newdir']);
    expect(readdirSync(path.join(cwd, 'newdir'))).toEqual(['sweep-1ms.json']);
    expect(existsSync(path.join(cwd, 'newdir-1ms.json'))).toBe(false);
    writeFileSync(path.join(cwd, 'a-file'), '');
    const refused = rtlat(['sweep', '--json', `${path.join(cwd, 'a-file')}/`]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^rtlat sweep: --json: got ".*a-file\/", expected a folder rtlat can create or write into; .*a-file: .* \((EEXIST|ENOTDIR)\)\n$/);
  });
});
