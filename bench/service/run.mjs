#!/usr/bin/env node
// The cost of rtlat's probe inside a busy node:http service: requests per second and event-loop delay
// p99, without and with the probe, under the same load from wrk on loopback. A third arm runs the
// reference cyclictest (one SCHED_FIFO thread at the same period on the same CPU, in its own process)
// beside the service without the probe: what any 1 kHz real-time wake-up costs on this machine, so
// that the probe's own share can be told apart. The arms' order turns every round (ABC, CBA, ...) so
// that a drift of the machine weighs on all of them alike.
//
//   node bench/service/run.mjs [--rounds 3] [--seconds 10] [--connections 32] [--arms A,B,...] [--out bench/service/RESULTS.md]
//
// --arms: which arms, of: without, probe, cyclictest (the default: all three, cyclictest when installed),
// and, to take the probe's cost apart, again (the arm without the probe once more: an A/A comparison,
// what this machine's noise alone makes of the change), unscraped (the probe, never scraped) and
// no-event-loop (the probe without its own event-loop monitor: startProbe({ eventLoop: false })).
//
// Needs the built package (npm run build), wrk and taskset (apt-get install wrk util-linux), and
// root for the probe's SCHED_FIFO thread (without it the probe runs degraded, and the table says so);
// the cyclictest arm runs when cyclictest is installed (apt-get install rt-tests).
// The service runs on the last CPU and wrk on the first: the probe's default CPU is the last one of the
// service's affinity mask, so it shares the CPU with the event loop it measures beside (the worst
// case). Scrapes /metrics once a second in every arm from the warm-up on, as Prometheus would (more often than usual).
// Other work on the machine weighs on every arm: each run reports the CPU time others took meanwhile
// (the machine's task time less this benchmark's own processes'). A run starts once others have left
// the CPUs (under 2% of their time for 2 s), and one during which others took more than 5% is run
// again (the table says how many were); after 30 minutes without a quiet machine the benchmark gives up.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(import.meta.dirname, '../..');
const { describeEnvironment, readFingerprint } = await import(path.join(root, 'dist/fingerprint/index.js'));
const { readMachineCpu, reapedChildrenCpuNs } = await import('../lib/proc.js');

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    arms: { type: 'string' },
    out: { type: 'string', default: path.join(root, 'bench/service/RESULTS.md') },
  },
});
const rounds = Number(flags.rounds);
const seconds = Number(flags.seconds);
const connections = Number(flags.connections);
const WARMUP_S = 2;
const SCRAPE_MS = 1_000;

for (const tool of ['wrk', 'taskset']) {
  if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error) throw new Error(`bench/service needs ${tool} (apt-get install wrk util-linux)`);
}
const withCyclictest = !spawnSync('cyclictest', ['--help'], { stdio: 'ignore' }).error;
/** @typedef {'without' | 'probe' | 'cyclictest' | 'again' | 'unscraped' | 'no-event-loop'} Arm */
/** Each arm: its label, and how its service runs (with the probe and its options, scraped, with cyclictest beside it). */
const ARM_SETUPS = {
  without: { label: 'without the probe', probe: null, scraped: true, cyclictest: false },
  probe: { label: 'with the probe', probe: [], scraped: true, cyclictest: false },
  cyclictest: { label: 'cyclictest beside it', probe: null, scraped: true, cyclictest: true },
  again: { label: 'without the probe, again (A/A)', probe: null, scraped: true, cyclictest: false },
  unscraped: { label: 'with the probe, never scraped', probe: [], scraped: false, cyclictest: false },
  'no-event-loop': { label: 'with the probe, eventLoop: false', probe: ['--no-event-loop'], scraped: true, cyclictest: false },
};
const ARMS = flags.arms ? flags.arms.split(',') : withCyclictest ? ['without', 'probe', 'cyclictest'] : ['without', 'probe'];
for (const arm of ARMS) {
  if (!(arm in ARM_SETUPS)) throw new Error(`bench/service: --arms: no arm ${JSON.stringify(arm)} (the arms: ${Object.keys(ARM_SETUPS).join(', ')})`);
}
if (!ARMS.includes('without')) throw new Error('bench/service: --arms: the changes are against the arm "without", which must be one of them');
if (ARMS.includes('cyclictest') && !withCyclictest) throw new Error('bench/service: --arms cyclictest needs cyclictest (apt-get install rt-tests)');
const cpus = os.cpus().length;
const serviceCpu = cpus - 1;
const loadCpu = 0;

/** Starts the service pinned to its CPU; resolves with its port and a way to stop it. */
function startService(probeArgs) {
  const child = spawn('taskset', ['-c', String(serviceCpu), process.execPath, path.join(import.meta.dirname, 'server.mjs'), ...(probeArgs ? ['--probe', ...probeArgs] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /port (\d+)/.exec(out);
      if (match) resolve({ port: Number(match[1]), stop: () => new Promise((done) => (child.once('exit', done), child.kill('SIGTERM'))) });
    });
    child.once('exit', (code) => reject(new Error(`the service exited (${code}) before listening`)));
  });
}

function wrk(port, durationS) {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', String(loadCpu), 'wrk', '-t1', `-c${connections}`, `-d${durationS}s`, '--latency', `http://127.0.0.1:${port}/`]);
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited ${code}: ${out}`));
      const toMs = (value, unit) => Number(value) * { us: 1e-3, ms: 1, s: 1e3 }[unit];
      const p99 = /^\s*99%\s+([\d.]+)(us|ms|s)$/m.exec(out);
      resolve({ requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]), latencyP99Ms: p99 ? toMs(p99[1], p99[2]) : NaN });
    });
  });
}

async function get(port, url) {
  const response = await fetch(`http://127.0.0.1:${port}${url}`);
  return url === '/stats' ? response.json() : response.text();
}

/**
 * cyclictest's loop at the probe's defaults (1 ms, SCHED_FIFO 99, memory locked) on the service's CPU,
 * until stopped. Like the probe, it leaves /dev/cpu_dma_latency alone (--default-system): held at 0 it
 * keeps every CPU out of idle states, which speeds up the whole machine's wake-ups, wrk's and the
 * service's included (+19% requests/s here), and says nothing about the wake-ups' own cost.
 */
const CYCLICTEST_ARGS = ['-m', '-p', '99', '-t', '1', '-a', String(serviceCpu), '-i', '1000', '--default-system', '-q'];
function startCyclictest() {
  const child = spawn('cyclictest', CYCLICTEST_ARGS, { stdio: 'ignore' });
  return () => new Promise((done) => (child.once('exit', done), child.kill('SIGINT')));
}

/** CPU time so far of this process and of its children that ended: the benchmark's own. */
function ownCpuNs() {
  const self = process.cpuUsage();
  return (self.user + self.system) * 1e3 + reapedChildrenCpuNs();
}

/** Runs `run` and says what share of the CPUs' time other processes took meanwhile (and the hypervisor stole). */
async function besideOthers(run) {
  const [machine, own, startNs] = [readMachineCpu(), ownCpuNs(), process.hrtime.bigint()];
  const result = await run();
  const [machineAfter, ownAfter, wallNs] = [readMachineCpu(), ownCpuNs(), Number(process.hrtime.bigint() - startNs)];
  const capacityNs = wallNs * cpus;
  return {
    ...result,
    othersShare: Math.max(0, machineAfter.busyNs - machine.busyNs - (ownAfter - own)) / capacityNs,
    stealShare: (machineAfter.stealNs - machine.stealNs) / capacityNs,
  };
}

const QUIET_SHARE = 0.02;
const NOISY_SHARE = 0.05;
const QUIET_CHECK_MS = 2_000;
const QUIET_WAIT_MS = 30 * 60_000;

/** Waits until other processes take under QUIET_SHARE of the CPUs' time for QUIET_CHECK_MS (nothing of ours runs meanwhile). */
async function waitForQuiet() {
  const giveUpAt = Date.now() + QUIET_WAIT_MS;
  for (let said = false; ; said = true) {
    const { othersShare } = await besideOthers(() => new Promise((resolve) => setTimeout(() => resolve({}), QUIET_CHECK_MS)));
    if (othersShare < QUIET_SHARE) return;
    if (Date.now() > giveUpAt) throw new Error(`bench/service: other processes kept ${(othersShare * 100).toFixed(0)}% of the CPUs busy for 30 minutes`);
    if (!said) process.stderr.write(`bench/service: waiting for other processes to leave the CPUs (${(othersShare * 100).toFixed(0)}% busy)\n`);
  }
}

/** One run of `arm` on a quiet machine: run again while other processes took more than NOISY_SHARE meanwhile. */
async function quietRun(arm) {
  for (let discarded = 0; ; discarded++) {
    await waitForQuiet();
    const run = await besideOthers(() => runOnce(arm));
    if (run.othersShare <= NOISY_SHARE) return { ...run, discarded };
    process.stderr.write(`bench/service: other processes took ${(run.othersShare * 100).toFixed(0)}% of the CPUs: running it again\n`);
  }
}

async function runOnce(arm) {
  const setup = ARM_SETUPS[arm];
  const service = await startService(setup.probe);
  const stopCyclictest = setup.cyclictest ? startCyclictest() : null;
  try {
    // Scraped from the warm-up on, as Prometheus scrapes a service from its start: the first scrape of a
    // probe's life compiles its code (~14 ms here, once), which is not what every later scrape costs.
    let scrapes = 0;
    const scraper = setup.scraped ? setInterval(() => void get(service.port, '/metrics').then(() => scrapes++), SCRAPE_MS) : undefined;
    await wrk(service.port, WARMUP_S);
    await get(service.port, '/reset');
    scrapes = 0;
    const load = await wrk(service.port, seconds);
    clearInterval(scraper);
    const stats = await get(service.port, '/stats');
    return { arm, ...load, scrapes, ...stats };
  } finally {
    await stopCyclictest?.();
    await service.stop();
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const loadAtStart = os.loadavg()[0];
const runs = [];
for (let round = 0; round < rounds; round++) {
  for (const arm of round % 2 === 0 ? ARMS : [...ARMS].reverse()) {
    process.stderr.write(`bench/service: round ${round + 1}/${rounds}, ${ARM_SETUPS[arm].label}\n`);
    runs.push(await quietRun(arm));
  }
}
const loadAtEnd = os.loadavg()[0];

const ms = (ns) => (ns / 1e6).toFixed(2);
const runsOf = (arm) => runs.filter((run) => run.arm === arm);
const summary = (arm) => {
  const of = runsOf(arm);
  return {
    rps: median(of.map((run) => run.requestsPerSecond)),
    delayP99Ns: median(of.map((run) => run.eventLoopDelayNs.p99)),
    wrkP99Ms: median(of.map((run) => run.latencyP99Ms)),
    cpuShare: median(of.map((run) => run.cpuUs * 1e3 / run.windowNs)),
    probeThreadShare: median(of.map((run) => run.probeThreadCpuUs * 1e3 / run.windowNs)),
    histogramThreadShare: median(of.map((run) => run.histogramThreadCpuUs * 1e3 / run.windowNs)),
    delayMaxNs: median(of.map((run) => run.eventLoopDelayNs.max)),
    worstDelayMaxNs: Math.max(...of.map((run) => run.eventLoopDelayNs.max)),
  };
};
const without = summary('without');
const change = (a, b) => `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)}%`;
const probeInfo = runs.find((run) => run.probe)?.probe;
const command = `node bench/service/run.mjs --rounds ${rounds} --seconds ${seconds} --connections ${connections}${flags.arms ? ` --arms ${flags.arms}` : ''}`;
const percent = (share, digits = 0) => `${(share * 100).toFixed(digits)}%`;
const row = (run, index) =>
  `| ${index + 1} | ${run.arm} | ${run.requestsPerSecond.toFixed(0)} | ${run.latencyP99Ms.toFixed(2)} | ` +
  `${ms(run.eventLoopDelayNs.p50)} | ${ms(run.eventLoopDelayNs.p99)} | ${ms(run.eventLoopDelayNs.max)} | ${percent(run.cpuUs * 1e3 / run.windowNs)} | ${run.scrapes} | ` +
  `${percent(run.othersShare, 1)} | ${percent(run.stealShare, 1)} | ${run.discarded} |`;
const othersShares = runs.map((run) => run.othersShare);
const discarded = runs.reduce((sum, run) => sum + run.discarded, 0);

const lines = [
  '# The probe inside a busy node:http service',
  '',
  `Made by \`${command}\` on ${new Date().toISOString().slice(0, 10)}.`,
  '',
  `Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${cpus} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, ` +
    `${describeEnvironment(readFingerprint())}; Node ${process.version}.`,
  '',
  `Load average (1 min): ${loadAtStart.toFixed(2)} at the start, ${loadAtEnd.toFixed(2)} at the end (this benchmark keeps both CPUs busy). ` +
    `Other processes took ${percent(median(othersShares), 1)} of the CPUs' time in the median run, ${percent(Math.max(...othersShares), 1)} at most ` +
    `(the machine's task time less this benchmark's processes', per run in the table of runs below). Each run started once other processes ` +
    `had taken under ${percent(QUIET_SHARE)} of the CPUs for ${QUIET_CHECK_MS / 1e3} s; ${discarded} run(s) during which they took more than ` +
    `${percent(NOISY_SHARE)} were run again.`,
  '',
  `The service (bench/service/server.mjs: ~20 us of work and a small JSON answer per request) runs pinned to CPU ${serviceCpu}; ` +
    `wrk (1 thread, ${connections} connections, ${seconds} s after a ${WARMUP_S} s warm-up) runs pinned to CPU ${loadCpu} on loopback. ` +
    (probeInfo
      ? `With the probe: \`startProbe()\` with its defaults (one thread, 1 ms, on CPU ${probeInfo.cpus.join(', ')}: the service's own CPU; ` +
        `${probeInfo.degraded.length ? `DEGRADED: ${probeInfo.degraded.join('; ')}` : 'SCHED_FIFO 99, memory locked'}) and its metrics registered. `
      : '') +
    `Every arm${ARMS.includes('unscraped') ? ' but "never scraped"' : ''} is scraped at /metrics once a second from the warm-up on. ` +
    (ARMS.includes('again') ? 'The A/A arm is the arm without the probe run once more: its change is what the noise alone makes of a change. ' : '') +
    (ARMS.includes('no-event-loop') ? 'The "eventLoop: false" arm runs the probe without its own event-loop monitor (startProbe({ eventLoop: false })). ' : '') +
    (ARMS.includes('cyclictest')
      ? `The cyclictest arm runs \`cyclictest ${CYCLICTEST_ARGS.join(' ')}\` beside the service without the probe (\`--default-system\`: ` +
        'like the probe, it leaves /dev/cpu_dma_latency alone). '
      : '') +
    "Event-loop delay is the service's own monitorEventLoopDelay at 1 ms resolution (resolution subtracted), in every arm. " +
    'The arms run in turn, their order reversed every round; medians over the rounds, changes against the arm without the probe.',
  '',
  '| median | requests/s | change | wrk p99 (ms) | event-loop delay p99 (ms) | change | loop delay max (ms): median run, worst | service CPU | of it, the measuring thread, the histogram thread |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...ARMS.map((arm) => {
    const of = summary(arm);
    const vs = (a, b) => (arm === 'without' ? '' : change(a, b));
    const threads = ARM_SETUPS[arm].probe ? `${percent(of.probeThreadShare, 2)}, ${percent(of.histogramThreadShare, 3)}` : '';
    return (
      `| ${ARM_SETUPS[arm].label} | ${of.rps.toFixed(0)} | ${vs(without.rps, of.rps)} | ${of.wrkP99Ms.toFixed(2)} | ${ms(of.delayP99Ns)} | ` +
      `${vs(without.delayP99Ns, of.delayP99Ns)} | ${ms(of.delayMaxNs)}, ${ms(of.worstDelayMaxNs)} | ${percent(of.cpuShare)} | ${threads} |`
    );
  }),
  '',
  'Each run is one sample of the machine as it was: read the spread of the runs below before the medians above. ' +
    '"Of it, the measuring thread, the histogram thread": CPU time of the probe\'s own threads as the scheduler accounts it (schedstat), ' +
    'as a share of one CPU: the measuring thread wakes at each period; the histogram thread (rtlat/hist) records its samples every 100 ms, ' +
    'so that the service\'s own thread does nothing per sample. What remains of the probe\'s cost is in the service\'s thread (the scrapes, each ' +
    'bounded by the histograms\' size) and in what the wake-ups do to it (preemption, caches, timer interrupts, and in a guest the exits to ' +
    'the hypervisor), which the cyclictest arm shows for a wake-up from outside the process.',
  '',
  'Every run:',
  '',
  '| run | arm | requests/s | wrk p99 (ms) | loop delay p50 (ms) | p99 (ms) | max (ms) | service CPU | scrapes | other processes | stolen | run again |',
  '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...runs.map(row),
  '',
];
writeFileSync(flags.out, lines.join('\n'));
process.stdout.write(lines.join('\n'));
