#!/usr/bin/env node
// Which reader --explain uses, and why: the per-CPU binary pages (trace_pipe_raw) against the text pipe
// (trace_pipe), each read every 10 ms from a process of its own while rtlat measures on every CPU at
// 50us and at 1ms, with the events --explain enables. Per run: events/s, bytes/s, events lost (the
// buffers' overrun counters, and pages flagged with missed events), the reader's CPU, and what rtlat
// measured meanwhile. Then both readers held off for 250 ms with small buffers, to show the losses
// counted. Writes a Markdown table.
//
//   node bench/explain/reader.mjs [--repeats 3] [--duration 5s] [--out bench/explain/READER.md]
//
// Needs the built package and root. Takes about 14 x (duration + 2 s) a repeat.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmdirSync, rmSync, writeFileSync, constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(import.meta.dirname, '../..');
const { explainEvents } = await import(path.join(root, 'dist/trace/events.js'));
const { cpuMaskHex, tracefsRoot } = await import(path.join(root, 'dist/trace/tracefs.js'));
const { usableCpus } = await import(path.join(root, 'dist/engine/system.js'));
const { describeEnvironment, readFingerprint } = await import(path.join(root, 'dist/fingerprint/index.js'));

const { values: flags } = parseArgs({
  options: {
    repeats: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5s' },
    out: { type: 'string', default: path.join(root, 'bench/explain/READER.md') },
  },
});
const cpus = usableCpus().allowed;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'rtlat-bench-reader-'));
const PAGE = 4096;

/** One measurement with one reader: the instance is this script's own, named apart from rtlat's. */
async function readWhileMeasuring({ mode, period, bufferKb, everyMs }) {
  const instance = path.join(tracefsRoot(), 'instances', `rtlat-reader-bench-${process.pid}`);
  mkdirSync(instance);
  const write = (file, value) => writeFileSync(path.join(instance, file), value);
  try {
    write('tracing_on', '0');
    write('trace_clock', 'mono');
    write('tracing_cpumask', cpuMaskHex(cpus));
    write('buffer_size_kb', String(bufferKb));
    for (const spec of explainEvents(path.join(instance, 'events'))) {
      if (spec.filter) write(`events/${spec.system}/${spec.event}/filter`, spec.filter);
      write(`events/${spec.system}/${spec.event}/enable`, '1');
    }
    write('tracing_on', '1');
    const files = mode === 'raw' ? cpus.map((cpu) => path.join(instance, `per_cpu/cpu${cpu}/trace_pipe_raw`)) : [path.join(instance, 'trace_pipe')];
    const fds = files.map((file) => openSync(file, constants.O_RDONLY | constants.O_NONBLOCK));
    const buffer = Buffer.alloc(mode === 'raw' ? PAGE : 1 << 20);
    let bytes = 0;
    let events = 0;
    let flaggedPages = 0;
    const drain = () => {
      for (const fd of fds) {
        for (;;) {
          let length;
          try {
            length = readSync(fd, buffer, 0, buffer.length, null);
          } catch (error) {
            if (error.code === 'EAGAIN') break;
            throw error;
          }
          if (length <= 0) break;
          bytes += length;
          if (mode === 'text') {
            for (let i = 0; i < length; i++) if (buffer[i] === 10) events++;
            continue;
          }
          const commit = buffer.readUInt32LE(8);
          if (commit & (1 << 31)) flaggedPages++;
          const end = 16 + (commit & ((1 << 27) - 1));
          for (let offset = 16; offset < end; ) {
            const type = buffer.readUInt32LE(offset) & 31;
            if (type === 29) offset += 4 + buffer.readUInt32LE(offset + 4);
            else if (type >= 30) offset += 8;
            else {
              offset += type === 0 ? 4 + buffer.readUInt32LE(offset + 4) : 4 + type * 4;
              events++;
            }
          }
        }
      }
    };
    const json = path.join(scratch, `${mode}-${period}.json`);
    const measuring = spawn(process.execPath, [path.join(root, 'bin/rtlat'), 'measure', '--period', period, '--duration', flags.duration, '-q', '--json', json], { stdio: 'ignore' });
    const ended = new Promise((resolve) => measuring.on('exit', resolve));
    let done = false;
    void ended.then(() => (done = true));
    const cpuBefore = process.cpuUsage();
    const startMs = Date.now();
    while (!done) {
      drain();
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
    drain();
    const seconds = (Date.now() - startMs) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const lost = cpus
      .map((cpuIndex) => readFileSync(path.join(instance, `per_cpu/cpu${cpuIndex}/stats`), 'utf8'))
      .reduce((sum, stats) => sum + ['overrun', 'commit overrun', 'dropped events'].reduce((total, name) => total + Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(stats)?.[1] ?? 0), 0), 0);
    write('tracing_on', '0');
    for (const fd of fds) closeSync(fd);
    const run = JSON.parse(readFileSync(json, 'utf8'));
    const p99 = run.all.percentiles.find((value) => value.percentile === 99).valueNs;
    return {
      mode, period, bufferKb, everyMs,
      eventsPerS: events / seconds / cpus.length,
      mbPerS: bytes / seconds / 1e6,
      lostShare: lost / (lost + events),
      flaggedPages,
      readerCpu: (cpu.user + cpu.system) / 1e6 / seconds,
      readerSystemCpu: cpu.system / 1e6 / seconds,
      samples: run.all.count,
      overruns: run.all.overruns,
      p99Us: p99 / 1000,
    };
  } finally {
    rmdirSync(instance);
  }
}

const pct = (share) => `${(100 * share).toFixed(1)}%`;
const row = (result) =>
  `| ${result.mode} | ${result.period} | ${result.bufferKb} KiB, every ${result.everyMs} ms | ${Math.round(result.eventsPerS)} | ${result.mbPerS.toFixed(1)} | ${pct(result.lostShare)} | ${result.flaggedPages} | ` +
  `${pct(result.readerCpu)} (${pct(result.readerSystemCpu)} system) | ${result.samples} | ${result.overruns} | ${result.p99Us.toFixed(1)} |`;

try {
  const loadBefore = os.loadavg()[0];
  const rows = [];
  for (let repeat = 0; repeat < Number(flags.repeats); repeat++) {
    for (const period of ['50us', '1ms']) {
      for (const mode of ['raw', 'text']) {
        process.stderr.write(`bench/explain/reader: ${mode} at ${period}, repeat ${repeat + 1}\n`);
        rows.push(await readWhileMeasuring({ mode, period, bufferKb: 1024, everyMs: 10 }));
      }
    }
  }
  for (const mode of ['raw', 'text']) rows.push(await readWhileMeasuring({ mode, period: '50us', bufferKb: 256, everyMs: 250 }));
  const command = `node bench/explain/reader.mjs --repeats ${flags.repeats} --duration ${flags.duration}`;
  const lines = [
    '# The trace reader: binary pages or the text pipe',
    '',
    `Made by \`sudo ${command}\` on ${new Date().toISOString().slice(0, 10)}.`,
    '',
    `Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} CPUs, Linux ${os.release()}, ${describeEnvironment(readFingerprint())}. ` +
      `One-minute load average ${loadBefore.toFixed(2)} before and ${os.loadavg()[0].toFixed(2)} after (the machine is shared: other work shows in every row).`,
    '',
    `Each row: \`rtlat measure --period P --duration ${flags.duration}\` on every CPU (SCHED_FIFO 99) while this script, an ordinary process, ` +
      'reads the events `--explain` enables from an instance of its own: "raw" every CPU\'s `per_cpu/cpuN/trace_pipe_raw` (4 KiB pages, ' +
      'each record\'s header walked), "text" the instance\'s `trace_pipe` (lines counted). Events/s are per CPU; "lost" counts the buffers\' ' +
      'overrun and dropped events against all events; "flagged" is raw pages marked with missed events; the reader\'s CPU is a share of one CPU. ' +
      'The last two rows hold the reader off for 250 ms with 256 KiB buffers.',
    '',
    '| reader | period | buffer, read | events/s a CPU | MB/s | lost | flagged | reader CPU | samples | overruns | p99 (us) |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(row),
    '',
  ];
  writeFileSync(flags.out, lines.join('\n'));
  process.stderr.write(`bench/explain/reader: wrote ${flags.out}\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
