// `rtlat cyclictest [cyclictest's options]`, and rtlat started under the name cyclictest: cyclictest's
// command line (src/cyclictest/options.ts), run by rtlat's probe, printed as cyclictest prints it (live
// frames every 10 ms, -q, -v, -h, --json, --spike, -b), with cyclictest's exit codes. rtlat's own files
// come on top: --rtlat-json (the run file), --rtlat-hdr-log (an HdrHistogram log).
import { spawnSync } from 'node:child_process';
import { closeSync, constants as fileConstants, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { OutputError, writeFileAtomic } from '../outputs/atomic-file.js';
import { OptionError, PrivilegeError } from '../errors.js';
import { formatExplain } from '../outputs/explain.js';
import { HdrLogWriter } from '../outputs/hdr-log.js';
import { writeRunFile } from '../outputs/run-json.js';
import { configuredCpuCount, measureRun, numaAvailable, numaNodeOfCpu, privilegeMessage, usableCpus, type LiveMeasurement } from '../measurement/measure.js';
import { cyclictestHelp } from '../outputs/cyclictest/help.js';
import { formatCyclictestJson } from '../outputs/cyclictest/json.js';
import {
  CYCLICTEST_MIN_UNSET,
  cursorOver,
  formatBreakLines,
  formatCyclictestHistogram,
  formatLiveHeader,
  formatSpikes,
  formatStatusBlock,
  formatThreadLine,
  threadLineOf,
  type SpikeLine,
  type ThreadLine,
} from '../outputs/cyclictest/text.js';
import type { RunFile } from '../run-file/schema.js';
import { NS_PER_US } from '../units.js';
import { commandLine } from './command-line.js';
import { EXIT } from './exit.js';
import { CyclictestExit, parseCyclictestArgs, type CyclictestSettings } from '../cyclictest/index.js';
import { planCyclictestRun, type CyclictestPlan } from './cyclictest/plan.js';
import { VerboseSamples } from '../outputs/cyclictest/verbose.js';
import { onStopSignals } from './signals.js';

/** cyclictest's main loop sleeps 10 ms between frames (and between checks of -l). */
const FRAME_MS = 10;

/**
 * Runs cyclictest's command line; returns the exit code. `program` names rtlat in messages as it was
 * started ("cyclictest", or "rtlat cyclictest"), as glibc's getopt does with argv[0].
 */
export async function cyclictestMain(program: string, argv: readonly string[]): Promise<number> {
  const startTime = new Date();
  const say = (line: string) => process.stderr.write(line.startsWith('FATAL:') ? `${line}\n` : `${program}: ${line}\n`);
  const { online, allowed } = usableCpus();
  const machine = { configuredCpus: configuredCpuCount(), allowedCpus: allowed, numa: numaAvailable(), nodeOfCpu: numaNodeOfCpu };
  let plan: CyclictestPlan;
  try {
    const parsed = parseCyclictestArgs(argv, machine);
    if (parsed.kind === 'help') {
      process.stdout.write(cyclictestHelp(parsed.version));
      return 0;
    }
    for (const warning of parsed.warnings) process.stderr.write(`${warning}\n`);
    plan = planCyclictestRun(parsed.settings, machine);
    if (plan.settings.verbose) process.stdout.write(`Max CPUs = ${machine.configuredCpus}\nOnline CPUs = ${online.length}\n`);
    for (const note of parsed.notes) process.stdout.write(`${note}\n`);
    const { affinity } = plan.settings;
    if (plan.settings.verbose && affinity.kind === 'list') process.stdout.write(`Using ${affinity.cpus.length} cpus.\n`);
  } catch (error) {
    return exitFor(error, say);
  }
  return runPlan(argv, plan, startTime, say);
}

/** rtlat's names for the options the probe checks last, as a cyclictest user wrote them. */
const CYCLICTEST_NAMES: Record<string, string> = { 'main-cpus': 'mainaffinity', cpus: 'affinity', json: 'json', histfile: 'histfile' };

/** One line on stderr for `error`, and the exit code (the table in the README). */
function exitFor(error: unknown, say: (line: string) => void): number {
  if (error instanceof CyclictestExit) {
    for (const warning of error.warnings) process.stderr.write(`${warning}\n`);
    say(error.message);
    return error.exitCode;
  }
  if (error instanceof OptionError) {
    say(`--${CYCLICTEST_NAMES[error.option] ?? error.option}${error.message.slice(error.option.length)}`);
    return EXIT.usage;
  }
  if (error instanceof PrivilegeError) {
    process.stderr.write(`${error.message}\n`);
    return EXIT.privileges;
  }
  say((error as Error).message.split('\n')[0]!);
  return EXIT.failure;
}

async function runPlan(argv: readonly string[], plan: CyclictestPlan, startTime: Date, say: (line: string) => void): Promise<number> {
  const s = plan.settings;
  const stop = new AbortController();
  // Behind `| head`, cyclictest dies of SIGPIPE: rtlat stops measuring, prints nothing more and exits 141.
  // Any other failure (a full disk behind `>`) stops it too, and is the one line it ends with.
  let stdoutFailure: NodeJS.ErrnoException | null = null;
  const onStdoutError = (error: NodeJS.ErrnoException) => {
    stdoutFailure ??= error;
    stop.abort();
  };
  process.stdout.on('error', onStdoutError);
  const out = (text: string) => {
    if (text && !stdoutFailure) process.stdout.write(text);
  };
  const live = !s.verbose && !s.quiet;
  const verbose = s.verbose ? new VerboseSamples(plan.threads.length, s.oscope, s.nsecs) : null;
  const spikes = new SpikeList(s.spikeNodes);
  const status = new StatusFile();
  const stopListening = onStopSignals(() => stop.abort());
  let probe: LiveMeasurement | null = null;
  let hdrLog: HdrLogWriter | null = null;
  let frames: FrameLoop | null = null;
  let fifo: FifoServer | null = null;
  let epochNs = 0;
  const onStatusSignal = (signal: NodeJS.Signals) => {
    if (!probe) return;
    const block = formatStatusBlock(liveLines(probe, plan), s.nsecs);
    if (signal === 'SIGUSR1') process.stderr.write(block);
    else status.write(block);
  };
  process.on('SIGUSR1', onStatusSignal);
  process.on('SIGUSR2', onStatusSignal);
  try {
    const result = await measureRun(
      { ...plan.probe, commandLine: commandLine('rtlat', ['cyclictest', ...argv]), signal: stop.signal, explain: plan.explain },
      {
        onSamples: verbose ? (thread, samples, count) => out(verbose.take(thread, samples, count)) : undefined,
        onSpike: (spike) => spikes.add({ thread: spike.thread, latency: inUnit(spike.latencyNs, s), wokeUs: Math.trunc((epochNs + spike.dueNs + spike.latencyNs) / NS_PER_US) }),
        onInterval: (interval, cpu) => hdrLog?.write(interval, cpu),
        onStart: (started) => {
          probe = started;
          epochNs = started.setup.epochNs;
          if (plan.rtlatHdrLogPath) {
            const intervals = { threads: started.config.threads.length, lengthNs: started.config.intervalNs };
            hdrLog = new HdrLogWriter(plan.rtlatHdrLogPath, { startTime: started.startedAt, comment: commandLine('rtlat', ['cyclictest', ...argv]), intervals });
          }
          checkSetup(started, s);
          if (started.setup.dmaLatency.held) out('# /dev/cpu_dma_latency set to 0us\n');
          if (s.verbose) {
            plan.threads.forEach((thread, index) => {
              if (s.affinity.kind === 'list') out(`Thread ${index} using cpu ${thread.cpu}.\n`);
              // cyclictest prints the next thread's interval here (it has already added the distance).
              out(`Thread ${index} Interval: ${thread.intervalUs + s.distanceUs}\n`);
            });
          }
          status.create();
          if (s.fifoPath !== null) fifo = new FifoServer(s.fifoPath, () => liveLines(started, plan).map((line) => formatThreadLine(line, s.nsecs)).join(''));
          frames = new FrameLoop(started, plan, live, out);
        },
        onStop: () => frames?.end(),
      },
    );
    writeOutputs(result, plan, spikes, out, startTime, argv);
    (hdrLog as HdrLogWriter | null)?.close();
    hdrLog = null;
    // Whatever was still buffered for stdout, before the verdict on it.
    await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
    const failure = stdoutFailure as NodeJS.ErrnoException | null;
    if (failure?.code === 'EPIPE') return EXIT.pipeClosed;
    if (failure) throw new OutputError('stdout', failure);
    return EXIT.ok;
  } catch (error) {
    (hdrLog as HdrLogWriter | null)?.abandon();
    return exitFor(error, say);
  } finally {
    (frames as FrameLoop | null)?.end();
    (fifo as FifoServer | null)?.close();
    stopListening();
    process.removeListener('SIGUSR1', onStatusSignal);
    process.removeListener('SIGUSR2', onStatusSignal);
    status.remove();
    process.stdout.removeListener('error', onStdoutError);
  }
}

/** What cyclictest prints after its main loop, in its order: JSON, -q lines, spikes, histogram, -b lines. */
function writeOutputs(run: RunFile, plan: CyclictestPlan, spikes: SpikeList, out: (text: string) => void, startTime: Date, argv: readonly string[]): void {
  const s = plan.settings;
  if (plan.jsonPath !== null) {
    const json = formatCyclictestJson(run, {
      version: s.version,
      commandLine: ['cyclictest', ...argv].join(' '),
      startTime,
      endTime: new Date(),
      nsecs: s.nsecs,
      histogram: s.histogramUs > 0,
      placement: plan.threads,
    });
    if (plan.jsonPath === '-') out(json);
    else writeFileAtomic(plan.jsonPath, json);
  }
  if (s.quiet && !s.histogramUs) {
    // cyclictest prints what it asked for (P:, I:); the run file says what the kernel applied.
    out(run.threads.map((thread, index) => formatThreadLine({ ...threadLineOf(run, thread, s.nsecs), priority: plan.threads[index]!.priority }, s.nsecs)).join(''));
  }
  out(spikes.format());
  if (s.histogramUs) {
    // The DMA line was printed first, as cyclictest prints it; a --histfile lacks it too.
    const histogram = formatCyclictestHistogram(run, { dmaLine: false, version: s.version, sumColumn: s.histogramSum });
    if (plan.histfilePath) writeFileAtomic(plan.histfilePath, histogram);
    else out(histogram);
  }
  if (s.breaktrace) {
    const broke = run.breaktrace && { tid: run.threads[run.breaktrace.thread]!.tid ?? 0, latency: inUnit(run.breaktrace.latencyNs, s) };
    out(formatBreakLines(run.threads.map((thread) => thread.tid ?? 0), broke));
  }
  if (plan.rtlatJsonPath) writeRunFile(plan.rtlatJsonPath, run);
  // rtlat's addition on stderr, after everything cyclictest prints: its stdout stays as it is.
  if (run.explain) process.stderr.write(formatExplain(run.explain));
}

/** A latency in cyclictest's unit: whole us, or ns with -N. */
function inUnit(latencyNs: number, settings: CyclictestSettings): number {
  return settings.nsecs ? latencyNs : Math.trunc(latencyNs / NS_PER_US);
}

/** The T: lines of the threads right now, from their native counters. */
function liveLines(probe: LiveMeasurement, plan: CyclictestPlan): ThreadLine[] {
  const s = plan.settings;
  const scale = s.nsecs ? 1 : NS_PER_US;
  const tids = probe.setup.threads;
  return probe.liveStats().map((stats, index) => ({
    thread: index,
    tid: tids[index]!.tid,
    priority: plan.threads[index]!.priority,
    intervalUs: plan.threads[index]!.intervalUs,
    cycles: stats.count,
    min: stats.count ? Math.trunc(stats.minNs / scale) : CYCLICTEST_MIN_UNSET,
    act: Math.trunc(stats.lastNs / scale),
    avg: stats.count ? Math.floor((s.nsecs ? stats.sumNs : stats.sumUs) / stats.count) : 0,
    max: stats.count ? Math.trunc(stats.maxNs / scale) : 0,
  }));
}

/**
 * cyclictest's main loop: every 10 ms the live frame (without -q or -v; with -M only after a new
 * maximum). Its -l rule (once one thread has its loops, every thread stops) is the probe's loopsEndAll.
 */
class FrameLoop {
  private readonly timer: NodeJS.Timeout;
  private framed = false;
  /** cyclictest moves the cursor up once it has slept after a frame and goes on (with -M, before waiting for a new maximum). */
  private cursorUpOwed = false;
  private maxima: number[] = [];
  private ended = false;

  constructor(
    private readonly probe: LiveMeasurement,
    private readonly plan: CyclictestPlan,
    private readonly live: boolean,
    private readonly out: (text: string) => void,
  ) {
    this.timer = setInterval(() => this.tick(), FRAME_MS);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    if (this.live && this.framed && this.plan.settings.refreshOnMax) this.out(cursorOver(this.plan.threads.length, 'down'));
  }

  private tick(): void {
    const lines = liveLines(this.probe, this.plan);
    if (lines.length === 0) return;
    if (this.cursorUpOwed) this.out(cursorOver(lines.length, 'up'));
    this.cursorUpOwed = false;
    const newMax = lines.some((line, index) => line.max > (this.maxima[index] ?? -1));
    this.maxima = lines.map((line) => line.max);
    if (this.live && (!this.plan.settings.refreshOnMax || newMax || !this.framed)) {
      this.out(formatLiveHeader(this.plan.policyLabel, loadAverage()) + lines.map((line) => formatThreadLine(line, this.plan.settings.nsecs)).join(''));
      this.framed = true;
      this.cursorUpOwed = true;
    }
  }
}

function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').slice(0, -1);
  } catch {
    return '';
  }
}

/**
 * cyclictest refuses to run without the policy or the memory lock it asked for, and warns about the
 * rest (pinning, /dev/cpu_dma_latency). The probe started degraded so that rtlat can tell which.
 */
function checkSetup(probe: LiveMeasurement, settings: CyclictestSettings): void {
  const setup = probe.setup;
  const fatal = probe.degraded.filter((refusal) => refusal.startsWith('SCHED_') || (settings.mlockall && refusal.startsWith('locking')));
  if (fatal.length) throw new PrivilegeError(privilegeMessage(fatal, 'or measure without them (no -p, no -m) at SCHED_OTHER'), fatal);
  setup.threads.forEach((thread, index) => {
    if (thread.errors.affinity) process.stderr.write(`WARN: Could not set CPU affinity to CPU #${probe.config.threads[index]!.cpu}\n`);
  });
  const errno = setup.dmaLatency.errno;
  // cyclictest's own lines: it stats the file first, then opens it.
  if (errno === constants.errno.ENOENT) process.stderr.write(`WARN: stat /dev/cpu_dma_latency failed: ${strerror(errno)}\n`);
  else if (errno) process.stderr.write(`WARN: open /dev/cpu_dma_latency: ${strerror(errno)}\n`);
}

/** strerror(errno), near enough: libuv's message with glibc's capital ("Permission denied"). */
function strerror(errno: number): string {
  const message = getSystemErrorMap().get(-errno)?.[1] ?? `errno ${errno}`;
  return message.charAt(0).toUpperCase() + message.slice(1);
}

/** --spike's list: the first `capacity` spikes in the order they woke, and how many there were. */
class SpikeList {
  private readonly perThread = new Map<number, SpikeLine[]>();
  private total = 0;

  constructor(private readonly capacity: number) {}

  add(spike: SpikeLine): void {
    this.total++;
    // Each thread's spikes arrive in order, so its first `capacity` hold every candidate for the list.
    const list = this.perThread.get(spike.thread) ?? [];
    if (list.length < this.capacity) list.push(spike);
    this.perThread.set(spike.thread, list);
  }

  format(): string {
    const first = [...this.perThread.values()].flat().sort((a, b) => a.wokeUs - b.wokeUs).slice(0, Math.max(this.capacity, 0));
    return formatSpikes(first, this.total);
  }
}

/**
 * -F PATH: a named pipe that hands every reader the T: lines of the moment, then end of file, as
 * cyclictest's fifo thread does (it retries every 500 ms while nobody reads, at once while someone does).
 */
class FifoServer {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly path: string,
    private readonly lines: () => string,
  ) {
    rmSync(path, { force: true });
    // 0666 less the umask, as cyclictest's mkfifo(path, 0666).
    const made = spawnSync('mkfifo', [path], { encoding: 'utf8' });
    if (made.status !== 0) throw new CyclictestExit(`-F ${path}: cannot create the named pipe (${(made.stderr || made.error?.message || '').trim()})`, 1);
    this.schedule(0);
  }

  /** Removes the pipe (cyclictest means to, but exits before its fifo thread gets there). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    rmSync(this.path, { force: true });
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => this.serve(), delayMs);
  }

  private serve(): void {
    let fd: number;
    try {
      // ENXIO until a reader has it open.
      fd = openSync(this.path, fileConstants.O_WRONLY | fileConstants.O_NONBLOCK);
    } catch {
      this.schedule(500);
      return;
    }
    try {
      writeSync(fd, this.lines());
    } catch {
      // The reader left already.
    } finally {
      closeSync(fd);
    }
    this.schedule(1);
  }
}

/** /dev/shm/cyclictest<pid>: where SIGUSR2 leaves the running status (rt-tests' get_cyclictest_snapshot reads it). */
class StatusFile {
  private readonly path = `/dev/shm/cyclictest${process.pid}`;
  private created = false;

  create(): void {
    if (!existsSync('/dev/shm')) return;
    try {
      writeFileSync(this.path, '', { mode: 0o666 });
      this.created = true;
    } catch {
      // cyclictest carries on without it too.
    }
  }

  write(block: string): void {
    if (this.created) writeFileSync(this.path, block);
  }

  remove(): void {
    if (this.created) rmSync(this.path, { force: true });
    this.created = false;
  }
}
