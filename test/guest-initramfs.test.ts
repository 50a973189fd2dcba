// The guest's pieces that need no QEMU: the cpio writer (read back by a reader written here from the
// format's description, and by the cpio tool), what goes into the image, the init's argument quoting,
// the serial protocol's parser, QEMU's command line, and how measure's options reach the guest.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it, onTestFinished } from 'vitest';
import { addMeasureOptions, HOST_OUTPUTS_AND_LOAD, measureArgsOf } from '../src/cli/options.js';
import { Command } from 'commander';
import type { RunQemuGuest } from '../src/run-file/schema.js';
import { cpioBuffer, type CpioEntry } from '../src/targets/guest/cpio.js';
import { GUEST_INSTALL_DIR, GUEST_PACKAGE_DIR, packageEntries, packageTree, runtimePackages, sharedLibraries } from '../src/targets/guest/contents.js';
import { guestResult } from '../src/targets/guest/guest.js';
import { baseImage, writeRunInitrd } from '../src/targets/guest/initramfs.js';
import { argsScript, GuestChannel, MEASURE_INIT, SEND_FUNCTION } from '../src/targets/guest/protocol.js';
import { linuxCommandLine, multibootModules, qemuArgs } from '../src/targets/guest/vm.js';
import { scratchDir } from './helpers/cli.js';
import { writeTree } from './helpers/package-copy.js';
import { commandRuns, itWithTool, requireTool } from './helpers/tools.js';

const root = path.resolve(import.meta.dirname, '..');
const cpioTool = requireTool('cpio', commandRuns('cpio', ['--version']), 'apt-get install cpio');
const busybox = requireTool('busybox', commandRuns('busybox', ['true']), 'apt-get install busybox-static');

interface ReadEntry {
  name: string;
  mode: number;
  size: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Buffer;
}

/** newc, as Documentation/driver-api/early-userspace/buffer-format.rst describes it; checks the 4-byte alignment. */
function readCpio(archive: Buffer): ReadEntry[] {
  const entries: ReadEntry[] = [];
  let offset = 0;
  const align = (value: number) => (value + 3) & ~3;
  while (offset < archive.length) {
    expect(archive.toString('ascii', offset, offset + 6)).toBe('070701');
    const field = (index: number) => parseInt(archive.toString('ascii', offset + 6 + index * 8, offset + 14 + index * 8), 16);
    const nameSize = field(11);
    const name = archive.toString('utf8', offset + 110, offset + 110 + nameSize - 1);
    const dataAt = align(offset + 110 + nameSize);
    const size = field(6);
    if (name === 'TRAILER!!!') return entries;
    entries.push({ name, mode: field(1), size, rdevMajor: field(9), rdevMinor: field(10), data: archive.subarray(dataAt, dataAt + size) });
    offset = align(dataAt + size);
  }
  throw new Error('no trailer');
}

describe('cpio newc writer', () => {
  const dir = scratchDir();
  const hostFile = path.join(dir, 'seven');
  writeFileSync(hostFile, 'seven b');
  const entries: CpioEntry[] = [
    { kind: 'directory', path: 'usr', mode: 0o755 },
    { kind: 'directory', path: 'usr/bin', mode: 0o755 },
    { kind: 'file', path: '/init', mode: 0o755, data: Buffer.from('#!/bin/sh\n') },
    { kind: 'host-file', path: 'usr/bin/seven', mode: 0o644, source: hostFile, size: 7 },
    { kind: 'symlink', path: 'usr/bin/link', target: 'seven' },
    { kind: 'char-device', path: 'console', mode: 0o600, major: 5, minor: 1 },
  ];
  const archive = cpioBuffer(entries);

  it('writes each entry with its type, size and data, 4-byte aligned, ending with the trailer', () => {
    expect(archive.length % 4).toBe(0);
    const read = readCpio(archive);
    expect(read.map((entry) => entry.name)).toEqual(['usr', 'usr/bin', 'init', 'usr/bin/seven', 'usr/bin/link', 'console']);
    expect(read.map((entry) => entry.mode.toString(8))).toEqual(['40755', '40755', '100755', '100644', '120777', '20600']);
    expect(read[2]!.data.toString()).toBe('#!/bin/sh\n');
    expect(read[3]!.data.toString()).toBe('seven b');
    expect(read[4]!.data.toString()).toBe('seven');
    expect([read[5]!.rdevMajor, read[5]!.rdevMinor]).toEqual([5, 1]);
  });

  it('equal contents make equal archives (times are 0)', () => {
    expect(cpioBuffer(entries).equals(archive)).toBe(true);
  });

  itWithTool(cpioTool, 'the cpio tool lists and extracts it', () => {
    const listed = spawnSync('cpio', ['-t', '--quiet'], { input: archive, encoding: 'utf8' });
    expect(listed.status).toBe(0);
    expect(listed.stdout.trim().split('\n')).toEqual(['usr', 'usr/bin', 'init', 'usr/bin/seven', 'usr/bin/link', 'console']);
    const into = path.join(dir, 'extracted');
    mkdirSync(into);
    // Without the device node, which only root in a real root file system may make.
    const partial = cpioBuffer(entries.filter((entry) => entry.kind !== 'char-device'));
    expect(spawnSync('cpio', ['-i', '-d', '--quiet'], { input: partial, cwd: into }).status).toBe(0);
    expect(readFileSync(path.join(into, 'usr/bin/link'), 'utf8')).toBe('seven b');
    expect(statSync(path.join(into, 'init')).mode & 0o777).toBe(0o755);
  });
});

describe('what the guest image holds', () => {
  it('finds the run-time packages and leaves the development ones out', () => {
    const names = runtimePackages(root).dirs.map((dir) => path.relative(path.join(root, 'node_modules'), dir));
    expect(names).toEqual(expect.arrayContaining(['commander', 'hdr-histogram-js', 'node-gyp-build', 'prom-client']));
    // ajv is a run-time dependency: run files read back are checked against their schema.
    for (const devOnly of ['typescript', 'vitest', 'playwright-core']) expect(names).not.toContain(devOnly);
    expect(names).toContain('ajv');
  });

  it('lists the libraries node links, the dynamic loader among them', () => {
    const libraries = sharedLibraries(process.execPath);
    expect(libraries.some((library) => /\/libc\.so\.6$/.test(library))).toBe(true);
    expect(libraries.some((library) => /ld-linux.*\.so/.test(library))).toBe(true);
  });

  it('places the package with its addon, dist and bin under /opt/rtlat', () => {
    const entries = packageEntries(root);
    // /opt/rtlat links to the package's folder in the tree (this clone: the tree's top).
    expect(entries).toContainEqual({ kind: 'symlink', path: GUEST_PACKAGE_DIR, target: path.posix.relative('/opt', GUEST_INSTALL_DIR) });
    const paths = entries.map((entry) => entry.path);
    expect(paths).toContain(`${GUEST_INSTALL_DIR}/package.json`);
    expect(paths).toContain(`${GUEST_INSTALL_DIR}/bin/rtlat`);
    expect(paths).toContain(`${GUEST_INSTALL_DIR}/dist/cli/main.js`);
    expect(paths).toContain(`${GUEST_INSTALL_DIR}/build/Release/rtlat.node`);
    expect(paths).toContain(`${GUEST_INSTALL_DIR}/node_modules/commander/package.json`);
    expect(paths.some((file) => file.includes('/obj.target/'))).toBe(false);
  });

  it('lays an installed package out as Node resolves it: hoisted beside it, nested in it, linked from elsewhere', () => {
    // proj/node_modules/rtlat needs a (hoisted beside it), c (a link to proj/packages/c) and d@2
    // (nested in it); a and c need d@1, hoisted. Its optional peer p is not installed.
    const project = path.join(scratchDir(), 'proj');
    const write = (file: string, text: string) => {
      mkdirSync(path.dirname(path.join(project, file)), { recursive: true });
      writeFileSync(path.join(project, file), text);
    };
    const library = (dir: string, name: string, version: string, body: string, dependencies: Record<string, string> = {}) => {
      write(`${dir}/package.json`, JSON.stringify({ name, version, type: 'module', exports: './index.js', dependencies }));
      write(`${dir}/index.js`, body);
    };
    library('node_modules/a', 'a', '1.0.0', "import d from 'd'; export default `a1(${d})`;\n", { d: '1' });
    library('packages/c', 'c', '1.0.0', "import d from 'd'; export default `c1(${d})`;\n", { d: '1' });
    library('node_modules/d', 'd', '1.0.0', "export default 'd1';\n");
    library('node_modules/rtlat/node_modules/d', 'd', '2.0.0', "export default 'd2';\n");
    symlinkSync('../packages/c', path.join(project, 'node_modules/c'));
    write('node_modules/rtlat/package.json', JSON.stringify({ name: 'rtlat', type: 'module', dependencies: { a: '1', c: '1', d: '2' }, peerDependencies: { p: '1' } }));
    write('node_modules/rtlat/bin/rtlat', '#!/usr/bin/env node\n');
    write('node_modules/rtlat/dist/index.js', "import a from 'a'; import c from 'c'; import d from 'd'; console.log(a, c, d);\n");
    write('node_modules/rtlat/build/Release/rtlat.node', '');
    const run = (main: string) => spawnSync(process.execPath, [main], { encoding: 'utf8' });
    const onHost = run(path.join(project, 'node_modules/rtlat/dist/index.js'));
    expect(onHost.stdout).toBe('a1(d1) c1(d1) d2\n');

    const entries = packageTree(path.join(project, 'node_modules/rtlat'));
    for (const entry of entries) expect(entry.path === GUEST_PACKAGE_DIR || entry.path.startsWith(`${GUEST_INSTALL_DIR}/`), entry.path).toBe(true);
    const guestRoot = scratchDir();
    writeTree(entries, guestRoot);
    const inGuest = run(path.join(guestRoot, GUEST_PACKAGE_DIR, 'dist/index.js'));
    expect(inGuest.stderr).toBe('');
    expect(inGuest.stdout).toBe(onHost.stdout);
  });

  itWithTool(busybox, 'builds the base image once, then reuses it; a run\'s initrd is the base plus its own archive', () => {
    const cacheDir = scratchDir();
    // Over 200 MB with the run's initrd: not left in the temporary folder.
    onTestFinished(() => rmSync(cacheDir, { recursive: true, force: true }));
    const first = baseImage(root, cacheDir);
    expect(first.reused).toBe(false);
    const second = baseImage(root, cacheDir);
    expect(second).toEqual({ path: first.path, reused: true });

    const base = readFileSync(first.path);
    const names = readCpio(base).map((entry) => entry.name);
    expect(names).toEqual(expect.arrayContaining(['init', 'bin/busybox', 'usr/bin/node', 'dev/console', 'opt/rtlat', 'opt/rtlat-install/bin/rtlat']));
    // Every folder comes before what it holds.
    names.forEach((name, index) => {
      const parent = path.posix.dirname(name);
      if (parent !== '.') expect(names.indexOf(parent), name).toBeLessThan(index);
    });

    const extra = path.join(cacheDir, 'extra.txt');
    writeFileSync(extra, 'extra');
    const initrd = path.join(cacheDir, 'initrd.cpio');
    writeRunInitrd(initrd, first.path, ['measure', '--loops', '10'], [{ source: extra, guestPath: '/etc/extra.txt' }]);
    const run = readFileSync(initrd);
    expect(run.subarray(0, base.length).equals(base)).toBe(true);
    const own = readCpio(run.subarray(base.length));
    expect(own.map((entry) => entry.name)).toEqual(['etc', 'rtlat', 'etc/extra.txt', 'rtlat/args.sh']);
    expect(own[3]!.data.toString()).toBe("set -- 'measure' '--loops' '10'\n");
  });
});

describe('the guest init and its protocol', () => {
  it('quotes arguments so that the shell gives them back as they were', () => {
    const args = ['measure', "it's", 'two words', '$HOME', '`id`', '"', ''];
    const shell = spawnSync('sh', ['-c', `${argsScript(args)} for a in "$@"; do printf '%s\\0' "$a"; done`], { encoding: 'utf8' });
    expect(shell.stdout.split('\0').slice(0, -1)).toEqual(args);
  });

  it('sends every result file and the exit status, and waits for the host before powering off', () => {
    expect(MEASURE_INIT).toMatch(/send run \/tmp\/run\.json/);
    expect(MEASURE_INIT).toMatch(/send hdrLog \/tmp\/run\.hlog/);
    expect(MEASURE_INIT.indexOf('RTLAT-EXIT')).toBeLessThan(MEASURE_INIT.indexOf('read -t 60 -n 1 ack'));
    expect(MEASURE_INIT.trimEnd().endsWith('poweroff -f')).toBe(true);
  });

  it('parses the channel in any chunking: ready, files (gzip + base64), exit', () => {
    const run = Buffer.from(JSON.stringify({ schema: 'rtlat.run', padding: 'x'.repeat(500) }));
    const gzipped = gzipSync(run);
    const base64 = gzipped.toString('base64').replace(/.{76}/g, '$&\n');
    const table = gzipSync('table\n');
    const stream = `noise\nRTLAT-READY 6.1.0-56-rt-amd64\r\nRTLAT-FILE ${gzipped.length} run\n${base64}\nRTLAT-END run\nRTLAT-FILE ${table.length} stdout\n${table.toString('base64')}\nRTLAT-END stdout\nRTLAT-EXIT 3\n`;
    for (const size of [1, 7, stream.length]) {
      const ready: string[] = [];
      const channel = new GuestChannel({ onReady: (release) => ready.push(release) });
      for (let at = 0; at < stream.length; at += size) channel.push(stream.slice(at, at + size));
      expect(ready).toEqual(['6.1.0-56-rt-amd64']);
      expect(channel.report?.status).toBe(3);
      expect(channel.report?.files.run?.equals(run)).toBe(true);
      expect(channel.report?.files.stdout?.toString()).toBe('table\n');
    }
  });

  it('leaves out a kernel message among a file\'s lines, and calls a file whose bytes do not add up damaged', () => {
    // Random, so that it stays several lines long when gzipped.
    const contents = randomBytes(600).toString('hex');
    const run = gzipSync(Buffer.from(contents));
    const lines = run.toString('base64').replace(/.{76}/g, '$&\n').split('\n');
    const faults: Error[] = [];
    const channel = new GuestChannel({ onFault: (error) => faults.push(error) });
    channel.push(`RTLAT-FILE ${run.length} run\n${lines[0]}\n[   42.1] watchdog: BUG: soft lockup - CPU#0 stuck for 23s!\n${lines.slice(1).join('\n')}\nRTLAT-END run\n`);
    channel.push(`RTLAT-FILE ${run.length} stdout\n${lines.slice(1).join('\n')}\nRTLAT-END stdout\nRTLAT-EXIT 0\n`);
    expect(channel.report?.files.run?.toString()).toBe(contents);
    expect(channel.report?.files.stdout).toBeUndefined();
    expect(faults.map((fault) => fault.message)).toEqual([`stdout came back damaged over the channel (${run.length - 57} of ${run.length} bytes)`]);
  });

  it('calls a run file that arrived whole but is not JSON damaged inside the guest, in one line', () => {
    // As one came back from a loaded Xen PV domU under TCG: 64 bytes at a page's start overwritten.
    const text = JSON.stringify({ schema: 'rtlat.run', spikes: Array.from({ length: 400 }, (_, cycle) => ({ cycle, latencyNs: 385954 })) }, null, 2);
    const damaged = Buffer.from(text);
    damaged.fill(0, 4096, 4096 + 64).writeUInt32LE(2, 4096);
    const info = { hypervisor: 'qemu' } as RunQemuGuest;
    expect(guestResult({ files: { run: Buffer.from(text) }, status: 0 }, 'rtlat guest', null, info).run?.schema).toBe('rtlat.run');
    expect(() => guestResult({ files: { run: damaged }, status: 0 }, 'rtlat guest', null, info)).toThrow(
      /^the run file the guest sent back arrived whole but is not JSON \(.* at position 4096.*\): it was damaged inside the guest$/,
    );
  });

  itWithTool(busybox, 'reads what the guest\'s send function writes', () => {
    const dir = scratchDir();
    const file = path.join(dir, 'run.json');
    writeFileSync(file, JSON.stringify({ padding: 'y'.repeat(2000) }));
    const sent = spawnSync('busybox', ['sh', '-c', `${SEND_FUNCTION}exec 3>&1; send 'a run' "${file}"; send missing /nonexistent`], { encoding: 'utf8' });
    expect(sent.status, sent.stderr).toBe(0);
    const channel = new GuestChannel();
    channel.push(`${sent.stdout}RTLAT-EXIT 0\n`);
    expect(channel.report?.files['a run']?.equals(readFileSync(file))).toBe(true);
    expect(Object.keys(channel.report!.files)).toEqual(['a run']);
  });
});

describe('QEMU command line', () => {
  const config = { qemu: 'qemu', kernel: '/k', initrd: '/i', vcpus: 2, memoryMiB: 512, commandLine: linuxCommandLine(['isolcpus=1']), dir: '/d' };
  const sockets = { channel: '/d/channel.sock', qmp: '/d/qmp.sock' };
  const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

  it('starts paused, the host CPU model under KVM, the most TCG can emulate otherwise', () => {
    const kvm = qemuArgs({ ...config, accelerator: 'kvm' }, sockets);
    const tcg = qemuArgs({ ...config, accelerator: 'tcg' }, sockets);
    expect(kvm).toContain('-S');
    expect([after(kvm, '-accel'), after(kvm, '-cpu')]).toEqual(['kvm', 'host']);
    expect([after(tcg, '-accel'), after(tcg, '-cpu')]).toEqual(['tcg', 'max']);
    expect([after(tcg, '-smp'), after(tcg, '-m')]).toEqual(['2', '512M']);
    expect(after(tcg, '-append')).toBe('console=ttyS0 quiet panic=-1 isolcpus=1');
    // The console first (ttyS0), the channel second (ttyS1).
    expect(tcg.filter((arg) => arg.startsWith('chardev:'))).toEqual(['chardev:console', 'chardev:channel']);
  });

  it('boots a multiboot kernel (Xen) with its modules and their command lines, and refuses a comma in them', () => {
    const modules = multibootModules([{ path: '/c/vmlinuz', args: 'console=hvc0 quiet' }, { path: '/c/initrd.cpio' }]);
    expect(modules).toBe('/c/vmlinuz console=hvc0 quiet,/c/initrd.cpio');
    const xen = qemuArgs({ ...config, kernel: '/c/xen', initrd: modules, commandLine: 'console=com1 dom0_mem=1024M', cpu: 'max', accelerator: 'tcg' }, sockets);
    expect([after(xen, '-kernel'), after(xen, '-initrd'), after(xen, '-append')]).toEqual(['/c/xen', modules, 'console=com1 dom0_mem=1024M']);
    expect(() => multibootModules([{ path: '/c/vmlinuz', args: 'a=1,2' }])).toThrow(/cannot have a comma/);
  });
});

describe('measure options for the guest', () => {
  const parse = (args: string[]) => {
    const command = addMeasureOptions(new Command('guest').option('--cpus <n>').option('--json <file>').exitOverride(), (name) => !NOT_TO_GUEST.includes(name));
    command.parse(args, { from: 'user' });
    return command;
  };
  const NOT_TO_GUEST = [...HOST_OUTPUTS_AND_LOAD, 'cpus'];

  it('passes on only what was given, booleans and negations included', () => {
    expect(measureArgsOf(parse([]), NOT_TO_GUEST)).toEqual([]);
    expect(measureArgsOf(parse(['-i', '200us', '--loops', '50', '--no-mlock', '--aligned', '--policy', 'rr']), NOT_TO_GUEST)).toEqual([
      '--period', '200us', '--loops', '50', '--policy', 'rr', '--aligned', '--no-mlock',
    ]);
  });

  it('keeps --cpus (vCPUs here) and the outputs on the host', () => {
    expect(measureArgsOf(parse(['--cpus', '2', '--json', 'x.json', '--spike', '100']), NOT_TO_GUEST)).toEqual(['--spike', '100']);
  });
});
