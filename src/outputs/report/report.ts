// The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched) that shows
// runs side by side, their percentile spectra overlaid, and for each run its settings, environment,
// per-thread numbers and latency histogram. It reads well on screen and printed.
import { compareRuns, type ComparedRun, type Comparison, METRICS } from '../compare/compare.js';
import { fingerprintOf, type LabeledRun } from '../../run-file/environment.js';
import { footnotes, formatRatio, metricCell } from '../compare/comparison-table.js';
import { shortName } from '../../run-file/read.js';
import { isKnown } from '../../fingerprint/field.js';
import { describeEnvironment, type Field, type Fingerprint, formatFingerprint } from '../../fingerprint/index.js';
import { PREEMPT_DEBUGFS_FILE } from '../../fingerprint/kernel.js';
import { latencyCells, microseconds, type LatencyRow } from '../table.js';
import { decodeHistogram, PERCENTILES } from '../../engine/histogram.js';
import type { RunFile, RunGuest } from '../../run-file/schema.js';
import { formatCpuList, formatDuration, NS_PER_MS } from '../../units.js';
import { escapeXml as escape } from './escape.js';
import { explainSection } from './explain.js';
import { analyzeRun } from '../../measurement/analyze/analyze.js';
import { us } from '../analyze.js';
import { colorOf, exceedancePlot, histogramPlot, percentilePlot, periodPlot, type PeriodSeries } from './plots.js';
import { REPORT_CSS } from './style.js';
import { NS_PER_US } from '../../units.js';

export interface ReportOptions {
  /** The page's heading; default "Wake-up latency". */
  title?: string;
  /** When the report was made; default now (tests pin it). */
  generatedAt?: Date;
  rtlatVersion: string;
  /** The runs are a sweep (rtlat sweep): add the plot of latency against period. */
  sweep?: boolean;
}

function swatch(color: string): string {
  return `<span class="swatch-box" style="background:${color}"></span>`;
}

/** A term, its value (null: left out), and whether the value is a command line (shown in monospace). */
type Fact = [term: string, value: string | null, code?: 'code'];

function definitionList(facts: readonly Fact[]): string {
  const shown = facts.filter((fact) => fact[1] !== null);
  return `<dl>${shown.map(([term, value, code]) => `<dt>${escape(term)}</dt><dd${code ? ' class="mono"' : ''}>${escape(value!)}</dd>`).join('')}</dl>`;
}

function comparisonTable(comparison: Comparison, colors: readonly string[]): string {
  const header = ['run', 'count', ...METRICS.map(({ name }) => name), 'overruns'].map((name) => `<th>${escape(name)}</th>`).join('');
  const rows = comparison.runs.map((run: ComparedRun, index) => {
    const cells = METRICS.map(({ name, percentile }) => {
      const value = run.metrics[name];
      const shown = metricCell(value, percentile);
      const weak = value.valueNs !== null && !value.reliable ? ' class="weak"' : '';
      let ratio = '';
      if (index > 0 && value.ratio !== null) {
        const trend = value.ratio > 1.05 ? ' worse' : value.ratio < 0.95 ? ' better' : '';
        ratio = `<span class="ratio${trend}">${escape(formatRatio(value.ratio).replace(/x$/, '×'))}</span>`;
      }
      return `<td${weak}>${escape(shown)}${ratio}</td>`;
    });
    const label = `${swatch(colors[index]!)}${escape(run.label)}${index === 0 ? ' <span class="weak">(baseline)</span>' : ''}`;
    return `<tr><td class="label">${label}</td><td>${run.count}</td>${cells.join('')}<td>${run.overruns ?? '-'}</td></tr>`;
  });
  const notes = footnotes(comparison.runs);
  return [
    `<table class="comparison"><thead><tr>${header}</tr></thead><tbody>${rows.join('')}</tbody></table>`,
    `<ul class="notes"><li>Latencies in microseconds; × is the ratio to the baseline (lower is better).</li>${notes.map((note) => `<li>${escape(note)}</li>`).join('')}</ul>`,
  ].join('\n');
}

function threadTable(run: RunFile): string {
  const columns = ['thread', 'cpu', 'count', 'min', 'avg', ...PERCENTILES.map((p) => `p${p}`), 'max', 'overruns', 'dropped'];
  const row = (name: string, cpu: string, values: LatencyRow) => `<tr>${[name, cpu, ...latencyCells(values)].map((cell) => `<td>${escape(cell)}</td>`).join('')}</tr>`;
  const rows = run.threads.map((thread) => row(`${thread.thread}`, thread.cpu === null ? '-' : `${thread.cpu}`, thread));
  if (run.threads.length > 1) rows.push(row('all', '-', run.all));
  return `<table class="threads"><thead><tr>${columns.map((column) => `<th>${column}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function settings(run: RunFile): Fact[] {
  const { config } = run;
  const durationMs = Date.parse(run.endTime) - Date.parse(run.startTime);
  const cpus = config.cpus.filter((cpu) => cpu !== null);
  return [
    ['measured by', `${run.tool.name} ${run.tool.version}`],
    ['started', `${run.startTime.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')}, for ${formatDuration(Math.max(durationMs, 0) * NS_PER_MS)}`],
    ['period', formatDuration(config.periodNs) + (config.distanceNs > 0 ? ` (+${formatDuration(config.distanceNs)} per further thread)` : '')],
    ['policy', config.policy === 'fifo' || config.policy === 'rr' ? `${config.policy}, priority ${config.priority}` : config.policy],
    ['clock', config.clock],
    ['threads', `${run.threads.length}${cpus.length ? ` on CPU ${formatCpuList(cpus)}` : ''}`],
    ['load', run.load ? `${run.load.spec}${run.load.cpus.length ? ` on CPU ${formatCpuList(run.load.cpus)}` : ''}` : 'none'],
    ['memory locked', run.threads.every((thread) => thread.memoryLocked === true) ? 'yes' : run.threads.some((thread) => thread.memoryLocked === false) ? 'no' : 'unknown'],
    ['DMA latency 0', run.dmaLatencyHeld === null ? 'unknown' : run.dmaLatencyHeld ? 'held' : 'not held'],
    ['stopped by', run.stoppedBy],
    ['degraded', run.degraded.length ? run.degraded.join('; ') : null],
    ['command', run.commandLine, 'code'],
  ];
}

function fieldText<T>(field: Field<T>, show: (value: T) => string = String): string {
  return field.value === null ? 'unknown' : show(field.value);
}

function environmentFacts(fingerprint: Fingerprint): Fact[] {
  const { kernel, virtualization, timing, cpus } = fingerprint;
  const cpuList = (list: number[]) => (list.length ? formatCpuList(list) : 'none');
  // Only debugfs tells the current mode; otherwise it is the one booted with, which root may have changed.
  const mode = kernel.preemptDynamicMode;
  const preemption = fieldText(kernel.preemption) + (isKnown(mode) ? `, mode ${mode.value}${mode.source === PREEMPT_DEBUGFS_FILE ? '' : ' at boot'}` : '');
  return [
    ['where', describeEnvironment(fingerprint)],
    ['kernel', fieldText(kernel.release)],
    ['preemption', preemption],
    ['tick', `${fieldText(kernel.hz, (hz) => `HZ=${hz}`)}, NO_HZ ${fieldText(kernel.noHz)}`],
    ['virtualization', virtualization.role === 'host' ? 'none (bare metal)' : `${virtualization.role}, ${fieldText(virtualization.technology)}`],
    ['clocksource', fieldText(timing.clocksource)],
    ['CPU', fieldText(cpus.modelName)],
    ['isolated CPUs', fieldText(cpus.isolated, cpuList)],
    ['nohz_full', fieldText(cpus.nohzFull, cpuList)],
    ['command line', fieldText(kernel.commandLine), 'code'],
  ];
}

/** How rtlat guest ran the guest: what the guest itself cannot know. */
function guestFacts(guest: RunGuest, host: Fingerprint | null): Fact[] {
  if (guest.hypervisor === 'xen') {
    const model = guest.deviceModel;
    return [
      ['hypervisor', `Xen ${guest.xen.version ?? '(version unknown)'}, ${guest.xen.scheduler ?? '?'} scheduler: a ${guest.type.toUpperCase()} domU${guest.emulated ? `, EMULATED (${guest.emulation})` : ''}`],
      ['host', host ? describeEnvironment(host) : null],
      ['kernel', `${guest.kernel.release ?? 'release unknown'} (${guest.kernel.path})`],
      ['vCPUs', `${guest.vcpus}, ${guest.vcpuCpus ? `pinned to physical CPU ${guest.vcpuCpus.join(', ')}` : 'not pinned'}`],
      ['memory', `${guest.memoryMiB} MiB`],
      ['device model', model === null ? null : `${model.path ?? 'QEMU'} (pid ${model.pid}): ${model.priority === null ? 'at the priority it started with' : `SCHED_FIFO ${model.priority}`}`],
      ['Dom0 load', guest.dom0LoadCpus === null ? null : guest.dom0LoadCpus.map(({ vcpu, pcpu }) => `Dom0 vCPU ${vcpu} on physical CPU ${pcpu}`).join(', ')],
      ['in the guest', guest.guestCommandLine, 'code'],
    ];
  }
  const accelerator = guest.accelerator.toUpperCase();
  return [
    ['accelerator', guest.emulated ? `${accelerator}: EMULATED, the latencies are QEMU's emulator's, not a hypervisor's (${guest.acceleratorReason})` : `${accelerator} (${guest.acceleratorReason})`],
    ['host', host ? describeEnvironment(host) : null],
    ['QEMU', `${guest.qemu.path}${guest.qemu.version ? `, version ${guest.qemu.version}` : ''}`],
    ['kernel', `${guest.kernel.release ?? 'release unknown'} (${guest.kernel.path})`],
    ['vCPUs', `${guest.vcpus}, ${guest.vcpuCpus ? `pinned to host CPU ${guest.vcpuCpus.join(', ')}` : 'not pinned'}`],
    ['memory', `${guest.memoryMiB} MiB`],
    ['vCPU threads', guest.qemuPriority === null ? 'at the priority they started with' : `SCHED_FIFO ${guest.qemuPriority}`],
    ['in the guest', guest.guestCommandLine, 'code'],
  ];
}

/** Steal time and interrupts on the measured CPUs while the run lasted: what a guest's hypervisor took. */
function duringTable(run: RunFile): string {
  if (!run.during) return '';
  const show = (value: number | null, format: (value: number) => string) => (value === null ? '-' : format(value));
  const rows = Object.entries(run.during.perCpu).map(
    ([cpu, values]) =>
      `<tr><td>${escape(cpu)}</td><td>${show(values.stealNs, formatDuration)}</td><td>${show(values.interrupts, String)}</td><td>${show(values.runQueueWaitNs, formatDuration)}</td><td>${show(values.scheduleCalls, String)}</td></tr>`,
  );
  return [
    '<h3>On the measured CPUs meanwhile</h3>',
    `<table class="during"><thead><tr><th>cpu</th><th>steal time</th><th>interrupts</th><th>run-queue wait</th><th>schedule() calls</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
  ].join('\n');
}

/** The run's tail by extreme-value analysis (as rtlat analyze): the exceedance plot and the bounds, when the run kept its extremes. */
function tailSection(run: RunFile, label: string, index: number): string {
  if (!run.threads.some((thread) => thread.extremes)) return '';
  const { all } = analyzeRun(run);
  const rows = all.bounds.map((bound) => {
    const verdict = bound.valueNs === null ? bound.why : bound.trustworthy ? 'trustworthy' : `NOT TRUSTWORTHY: ${bound.why}`;
    const value = bound.valueNs === null ? '-' : bound.trustworthy ? us(bound.valueNs) : `(fit: ${us(bound.valueNs)})`;
    const interval = bound.lowerNs === null ? '-' : `${us(bound.lowerNs)} to ${bound.upperNs === null ? 'unbounded' : us(bound.upperNs)}`;
    return `<tr><td>${bound.probability.toExponential(0)}</td><td>${bound.method}</td><td>${escape(value)}</td><td>${escape(interval)}</td><td class="label">${escape(verdict)}</td></tr>`;
  });
  const potTrusted = all.bounds.filter((bound) => bound.method === 'pot-gpd').every((bound) => bound.trustworthy);
  const plot = all.curve
    ? `<figure>${exceedancePlot(`run-${index}-exceedance`, `Exceedance probability of ${label}`, { ...all.curve, trustworthy: potTrusted })}<figcaption>1 - CDF per wake-up on log axes (all threads): the largest latencies as observed, the generalized Pareto tail fitted over the threshold of ${escape(us(all.curve.thresholdNs))}, and its ${Math.round(all.confidence * 100)}% profile-likelihood band. The bound at a probability is where the fitted tail crosses it.${potTrusted ? '' : ' A check failed: this tail is NOT TRUSTWORTHY (see the table).'}</figcaption></figure>`
    : '<p class="weak">Too few exceedances for a peaks-over-threshold fit.</p>';
  return [
    '<h3>Latency bounds (extreme-value analysis, all threads)</h3>',
    plot,
    `<table class="bounds"><thead><tr><th>p per wake-up</th><th>method</th><th>bound</th><th>${Math.round(all.confidence * 100)}% interval</th><th>verdict</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
  ].join('\n');
}

/** `withTail`: add the extreme-value section; a sweep's report leaves it out, its runs are short and many. */
function runSection(entry: LabeledRun, index: number, color: string, withTail: boolean): string {
  const { run, label, file } = entry;
  const fingerprint = fingerprintOf(run.environment);
  const withHistogram = run.threads.filter((thread) => thread.histogram !== null && thread.count > 0);
  const beyond = withHistogram.flatMap((thread) => (thread.beyondHistogram?.count ? [thread.beyondHistogram] : []));
  const beyondNote = beyond.length
    ? ` Not plotted: ${beyond.reduce((total, part) => total + part.count, 0)} samples of ${microseconds(Math.min(...beyond.map((part) => part.fromNs)))}us or more, beyond the histogram (cyclictest -h counted them only as overflows): their latencies are unknown.`
    : '';
  const plot = withHistogram.length
    ? `<figure>${histogramPlot(`run-${index}-histogram`, `Latency histogram of ${label}`, withHistogram.map((thread) => ({ label: thread.cpu === null ? `thread ${thread.thread}` : `CPU ${thread.cpu}`, histogram: decodeHistogram(thread.histogram!) })))}<figcaption>Samples per latency bin, per measuring thread; counts on a log scale so that single late wake-ups show.${escape(beyondNote)}</figcaption></figure>`
    : '<p class="weak">No histogram was kept for this run (cyclictest without -h), so there is no plot.</p>';
  return [
    `<section class="run" id="run-${index}">`,
    `<h2>${swatch(color)}${escape(label)}${run.guest?.emulated ? ' <span class="emulated">EMULATED</span>' : ''}<span class="file">${escape(shortName(file))}</span></h2>`,
    '<div class="facts">',
    `<div><h3>Settings</h3>${definitionList(settings(run))}</div>`,
    `<div><h3>Environment</h3>${fingerprint ? definitionList(environmentFacts(fingerprint)) : '<p class="weak">Not recorded in this run file.</p>'}</div>`,
    run.guest ? `<div><h3>Guest</h3>${definitionList(guestFacts(run.guest, fingerprintOf(run.hostEnvironment)))}</div>` : '',
    '</div>',
    '<h3>Per thread (us)</h3>',
    threadTable(run),
    plot,
    withTail ? tailSection(run, label, index) : '',
    duringTable(run),
    explainSection(run),
    fingerprint ? `<details><summary>The whole environment fingerprint</summary><pre>${escape(formatFingerprint(fingerprint))}</pre></details>` : '',
    '</section>',
  ].join('\n');
}

const PERIOD_PLOT_PERCENTILES = [50, 99] as const;

/** A sweep's runs as series against their periods: p50, p99 and max, for each load condition. */
function periodSeries(runs: readonly LabeledRun[]): PeriodSeries[] {
  const conditions = [...new Set(runs.map(({ run }) => run.load?.spec ?? null))];
  const series: PeriodSeries[] = [];
  conditions.forEach((load, conditionIndex) => {
    const sorted = runs.filter(({ run }) => (run.load?.spec ?? null) === load).sort((a, b) => a.run.config.periodNs - b.run.config.periodNs);
    const suffix = conditions.length > 1 ? (load === null ? ', no load' : `, load ${load}`) : '';
    const point = ({ run }: LabeledRun, valueNs: number): [number, number] => [run.config.periodNs / NS_PER_US, valueNs / NS_PER_US];
    const lines: [string, (entry: LabeledRun) => number | undefined][] = [
      ...PERIOD_PLOT_PERCENTILES.map((p): [string, (entry: LabeledRun) => number | undefined] => [`p${p}`, (entry) => entry.run.all.percentiles.find((value) => value.percentile === p)?.valueNs]),
      ['max', (entry) => entry.run.all.maxNs],
    ];
    lines.forEach(([name, valueOf], lineIndex) => {
      const points = sorted.flatMap((entry) => {
        const valueNs = valueOf(entry);
        return valueNs === undefined || entry.run.all.count === 0 ? [] : [point(entry, valueNs)];
      });
      series.push({ label: `${name}${suffix}`, color: colorOf(conditionIndex * lines.length + lineIndex), points });
    });
  });
  return series;
}

/** The report for `runs` (the first is the comparison's baseline) as one HTML document. */
export function renderReport(runs: readonly LabeledRun[], options: ReportOptions): string {
  // A sweep varies the period (and, with --with-and-without-load, the load): that is its point, not a caveat.
  const comparison = compareRuns(runs, options.sweep ? { varied: ['period', 'load'] } : {});
  const colors = runs.map((_, index) => colorOf(index));
  const title = options.title ?? 'Wake-up latency';
  const generatedAt = (options.generatedAt ?? new Date()).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const spectrum = percentilePlot(
    'percentiles',
    runs.map(({ label, run }, index) => ({
      label,
      color: colors[index]!,
      histogram: run.all.histogram ? decodeHistogram(run.all.histogram) : null,
      beyond: run.all.beyondHistogram,
      maxNs: run.all.maxNs,
    })),
  );
  const warnings = comparison.warnings.length
    ? `<ul class="warnings">${comparison.warnings.map((warning) => `<li>${escape(warning)}</li>`).join('')}</ul>`
    : '';
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta name="generator" content="rtlat ${escape(options.rtlatVersion)}">`,
    `<title>${escape(title)}: ${escape(runs.map((run) => run.label).join(' vs '))}</title>`,
    `<style>${REPORT_CSS}</style>`,
    '</head>',
    '<body>',
    '<header>',
    `<h1>${escape(title)}</h1>`,
    `<p class="lead">${runs.length} run${runs.length === 1 ? '' : 's'}; made ${escape(generatedAt)} by rtlat ${escape(options.rtlatVersion)}.</p>`,
    warnings,
    '</header>',
    '<section id="comparison">',
    '<h2>Side by side</h2>',
    comparisonTable(comparison, colors),
    '</section>',
    ...(options.sweep
      ? [
          '<section id="periods">',
          '<h2>Latency versus period</h2>',
          `<figure>${periodPlot('periods', periodSeries(runs))}<figcaption>Each period's p50, p99 and maximum latency (all threads). Where latencies sit above the dashed line, wake-ups came after the next one was due: at short periods that is the timer's resolution, not the load.</figcaption></figure>`,
          '</section>',
        ]
      : []),
    '<section id="percentiles">',
    '<h2>Latency by percentile</h2>',
    `<figure>${spectrum}<figcaption>Each run's latency at each percentile of its wake-ups (all threads), HdrHistogram style: the x axis counts nines, so the tail gets the room. Dashed where fewer than 10 samples lie beyond the percentile.</figcaption></figure>`,
    '</section>',
    ...runs.map((entry, index) => runSection(entry, index, colors[index]!, !options.sweep)),
    `<footer>Made by rtlat ${escape(options.rtlatVersion)} from ${escape(runs.map((run) => shortName(run.file)).join(', '))}. Latency is how late each thread woke after the time it asked for.</footer>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
