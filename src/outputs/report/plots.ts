// The report's plots. The percentile spectrum overlays runs the way HdrHistogram's plotter does
// (x: percentile on a log scale of nines, 0 to 99.999%); the histogram shows one run's threads the way
// OSADL's latency plots do (x: latency in us, y: samples on a log scale, so single outliers show); the
// period plot shows a sweep's latencies against its periods, beside the line where latency = period.
import type { JsHistogram } from 'hdr-histogram-js';
import { minSamplesFor, valueAtPercentile, type Histogram } from '../../engine/histogram.js';
import type { BeyondHistogram } from '../../run-file/schema.js';
import { NS_PER_US } from '../../units.js';
import { linearTicks, logTicks, niceBound, niceStep, type PlotSeries, type Point, renderPlot } from './svg.js';

/** Color-blind-safe (Okabe and Ito), then greys; further series reuse them. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#999999'];

export function colorOf(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}

/** 99.999%: five nines, the right end of the percentile axis. */
const MAX_NINES = 5;
const NINES_STEP = 0.05;
/** Plots are drawn at this size; the page scales them to its width. */
const PLOT_WIDTH = 880;
const PLOT_HEIGHT = 340;

/** Percentile (0..100) from its position on the x axis: x nines means 1 - 10^-x. */
function percentileAt(nines: number): number {
  return 100 * (1 - 10 ** -nines);
}

export interface Spectrum {
  /** [nines, us] while the sample count supports the percentile. */
  solid: Point[];
  /** Beyond: percentiles that are only the largest of a few samples. */
  dashed: Point[];
  /** The maximum: at its sample's place (1 - 1/count), or at the axis' end when that lies beyond it. */
  max: Point;
}

/**
 * The percentile spectrum of a histogram: its latency (us) at each 0.05 nines, up to 99.999% or its
 * sample count's end. Samples beyond the histogram (`beyond`) count in the ranks, but the line stops
 * where they begin: their latencies are unknown, only the maximum is.
 */
export function percentileSpectrum(histogram: Histogram, maxNs: number, beyond?: BeyondHistogram | null): Spectrum | null {
  const count = histogram.totalCount + (beyond?.count ?? 0);
  if (count === 0) return null;
  const end = Math.min(MAX_NINES, Math.log10(count));
  const steps = Math.floor(end / NINES_STEP + 1e-9);
  const positions = Array.from({ length: steps + 1 }, (_, index) => index * NINES_STEP);
  if (end - positions.at(-1)! > 1e-9) positions.push(end);
  const solid: Point[] = [];
  const dashed: Point[] = [];
  // When the axis reaches the run's last sample (1 - 1/count), the line ends at the exact maximum.
  const endsAtMax = Math.log10(count) <= MAX_NINES && !beyond?.count;
  for (const [index, nines] of positions.entries()) {
    const percentile = percentileAt(nines);
    const known = valueAtPercentile(histogram, percentile, beyond);
    if (known === null) break;
    const valueNs = endsAtMax && index === positions.length - 1 ? maxNs : known;
    const point: Point = [nines, valueNs / NS_PER_US];
    if (count >= minSamplesFor(percentile)) solid.push(point);
    else {
      // The dashed part starts where the solid one ends, so the line stays unbroken.
      if (dashed.length === 0 && solid.length > 0) dashed.push(solid.at(-1)!);
      dashed.push(point);
    }
  }
  return { solid, dashed, max: [end, maxNs / NS_PER_US] };
}

/**
 * Sample counts per bin of `binWidthNs`. Values below 2,048 ns are exact; above, a bucket holds a range
 * (0.1% wide) and its samples count at its middle, the best estimate of where they were.
 */
export function histogramBins(histogram: Histogram, binWidthNs: number): Map<number, number> {
  const bins = new Map<number, number>();
  const iterator = (histogram as JsHistogram).recordedValuesIterator;
  iterator.reset();
  while (iterator.hasNext()) {
    const step = iterator.next();
    const bin = Math.floor((histogram as JsHistogram).medianEquivalentValue(step.valueIteratedTo) / binWidthNs);
    bins.set(bin, (bins.get(bin) ?? 0) + step.countAtValueIteratedTo);
  }
  return bins;
}

/** "1.5us", "20us", "1ms" on a latency axis in us. */
function formatUs(us: number): string {
  if (us >= 1000) return `${Number((us / 1000).toPrecision(3))}ms`;
  return `${Number(us.toPrecision(3))}us`;
}

/** "1", "10", "1k", "10k", "1M": sample counts on a log axis. */
function formatCount(count: number): string {
  for (const [suffix, size] of [['G', 1e9], ['M', 1e6], ['k', 1e3]] as const) if (count >= size) return `${Number((count / size).toPrecision(3))}${suffix}`;
  return `${Number(count.toPrecision(3))}`;
}

export interface SpectrumInput {
  label: string;
  color: string;
  /** The run's all-threads histogram; null when it kept none. */
  histogram: Histogram | null;
  beyond?: BeyondHistogram | null;
  maxNs: number;
}

/** All runs on one percentile plot: one series (g.series) per run that kept a histogram. */
export function percentilePlot(id: string, runs: readonly SpectrumInput[]): string {
  const drawn = runs.flatMap(({ label, color, histogram, beyond, maxNs }) => {
    const spectrum = histogram ? percentileSpectrum(histogram, maxNs, beyond) : null;
    return spectrum ? [{ label, color, spectrum }] : [];
  });
  const values = drawn.flatMap(({ spectrum }) => [...spectrum.solid, ...spectrum.dashed, spectrum.max].map(([, us]) => us));
  const positive = values.filter((us) => us > 0);
  const yMin = niceBound(positive.length ? Math.min(...positive) : 1, true);
  const yMax = niceBound(Math.max(yMin * 10, ...values));
  const clamp = ([x, us]: Point): Point => [x, Math.max(us, yMin)];
  const series: PlotSeries[] = drawn.map(({ label, color, spectrum }) => ({
    label,
    color,
    points: spectrum.solid.map(clamp),
    dashed: spectrum.dashed.map(clamp),
    marker: clamp(spectrum.max),
  }));
  const missing = runs.filter((run) => !drawn.some((item) => item.label === run.label)).map((run) => `${run.label}: no histogram`);
  const cut = runs.flatMap(({ label, beyond }) =>
    beyond?.count ? [`${label}: the line stops where its ${beyond.count} samples of ${formatUs(beyond.fromNs / NS_PER_US)} or more begin (beyond its histogram, values unknown)`] : [],
  );
  return renderPlot({
    id,
    className: 'percentile-plot',
    title: 'Latency by percentile, all runs',
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    x: {
      kind: 'linear',
      min: 0,
      max: MAX_NINES,
      label: 'percentile',
      ticks: Array.from({ length: MAX_NINES + 1 }, (_, nines) => ({ value: nines, label: nines === 0 ? '0%' : `${Number(percentileAt(nines).toFixed(nines))}%` })),
    },
    y: { kind: 'log', min: yMin, max: yMax, label: 'latency', ticks: logTicks(yMin, yMax, formatUs) },
    series,
    legendNotes: ['dashed: too few samples for the percentile', 'dot: maximum', ...missing, ...cut],
  });
}

/** The histogram plot's thinnest line (the last thread's), and how much wider each one drawn under it is. */
const HISTOGRAM_LINE_PX = 1.25;
const OUTLINE_STEP_PX = 1.5;

export interface ThreadHistogram {
  label: string;
  histogram: Histogram;
}

/** One run's threads as latency histograms with log-scale counts: one series per thread. */
export function histogramPlot(id: string, title: string, threads: readonly ThreadHistogram[]): string {
  const maxNs = Math.max(...threads.map(({ histogram }) => histogram.maxValue), NS_PER_US);
  // 1us bins as OSADL plots them, coarser when the tail is long, so that a plot has at most ~250 bins.
  const binUs = Math.max(1, niceStep(maxNs / NS_PER_US, 250));
  const lastUs = (Math.floor(maxNs / NS_PER_US / binUs) + 1) * binUs;
  const tickUs = niceStep(lastUs, 8);
  const xMax = Math.ceil(lastUs / tickUs) * tickUs;
  const binned = threads.map(({ histogram }) => histogramBins(histogram, binUs * NS_PER_US));
  const yMax = niceBound(Math.max(10, ...binned.flatMap((bins) => [...bins.values()])) * 2);
  // Empty bins sit on the floor, just below one sample.
  const floor = 0.5;
  // Threads often share bins (the floor, single late wake-ups): each is drawn under the next one wider,
  // so that where lines coincide every thread's color still shows at its edges.
  const widthPx = (index: number) => HISTOGRAM_LINE_PX + OUTLINE_STEP_PX * Math.min(threads.length - 1 - index, 3);
  const series: PlotSeries[] = threads.map(({ label }, index) => {
    const bins = binned[index]!;
    const lastBin = Math.max(...bins.keys());
    const points: Point[] = [[0, floor]];
    for (let bin = 0; bin <= lastBin; bin++) {
      const count = bins.get(bin) ?? floor;
      points.push([bin * binUs, count], [(bin + 1) * binUs, count]);
    }
    points.push([(lastBin + 1) * binUs, floor]);
    return { label, color: colorOf(index), points, widthPx: widthPx(index) };
  });
  return renderPlot({
    id,
    className: 'histogram-plot',
    title,
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT - 40,
    x: { kind: 'linear', min: 0, max: xMax, label: `latency (${formatUs(binUs)} bins)`, ticks: linearTicks(0, xMax, formatUs, 8) },
    y: { kind: 'log', min: floor, max: yMax, label: 'samples', ticks: logTicks(1, yMax, formatCount).filter((tick) => Number.isInteger(Math.log10(tick.value))) },
    series,
  });
}

export interface PeriodSeries {
  label: string;
  color: string;
  /** [period in us, latency in us], one per measured period. */
  points: Point[];
}

/**
 * A sweep's latencies against its periods, both on log scales, with the line latency = period: above
 * it a wake-up came after the next one was due, which at short periods is the timer resolution showing.
 */
export function periodPlot(id: string, series: readonly PeriodSeries[]): string {
  const periodsUs = series.flatMap(({ points }) => points.map(([periodUs]) => periodUs));
  const latenciesUs = series.flatMap(({ points }) => points.map(([, latencyUs]) => latencyUs)).filter((us) => us > 0);
  const xMin = niceBound(Math.min(...periodsUs), true);
  const xMax = niceBound(Math.max(...periodsUs, xMin * 10));
  const yMin = niceBound(Math.min(...latenciesUs, xMin), true);
  const yMax = niceBound(Math.max(...latenciesUs, xMax));
  const clamp = ([x, y]: Point): Point => [x, Math.max(y, yMin)];
  return renderPlot({
    id,
    className: 'period-plot',
    title: 'Latency versus period',
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    x: { kind: 'log', min: xMin, max: xMax, label: 'period', ticks: logTicks(xMin, xMax, formatUs) },
    y: { kind: 'log', min: yMin, max: yMax, label: 'latency', ticks: logTicks(yMin, yMax, formatUs) },
    series: [
      { label: 'latency = period', color: '#999999', points: [], dashed: [[xMin, xMin], [xMax, xMax]] },
      ...series.map(({ label, color, points }) => ({ label, color, points: points.map(clamp) })),
    ],
    legendNotes: ['above the dashed line: later than the period'],
  });
}

export interface ExceedanceSeries {
  /** [latency ns, probability per wake-up]. */
  observed: readonly (readonly [number, number])[];
  fitted: readonly (readonly [number, number])[];
  lower: readonly (readonly [number, number])[];
  upper: readonly (readonly [number, number])[];
  /** Not trustworthy: the checks failed, and the caption says so. */
  trustworthy: boolean;
}

/**
 * The exceedance plot of extreme-value analysis: 1 - CDF (the probability per wake-up of a latency
 * above x) on log axes, as observed and as the fitted generalized Pareto tail gives it, with the band
 * of its profile-likelihood intervals; a bound at probability p is where the curves cross p.
 */
export function exceedancePlot(id: string, title: string, series: ExceedanceSeries): string {
  const toUs = (points: ExceedanceSeries['observed']): Point[] => points.map(([ns, p]) => [ns / NS_PER_US, p]);
  const all = [...series.observed, ...series.fitted, ...series.lower, ...series.upper];
  const xs = all.map(([ns]) => ns / NS_PER_US).filter((us) => us > 0);
  const ps = all.map(([, p]) => p).filter((p) => p > 0);
  const xMin = niceBound(Math.min(...xs), true);
  // A wild extrapolation would squeeze what was measured into a corner: the axis ends at most three
  // decades past the largest latency observed (the lines are clipped there).
  const observedMaxUs = Math.max(...series.observed.map(([ns]) => ns / NS_PER_US));
  const xMax = niceBound(Math.min(Math.max(...xs, xMin * 10), observedMaxUs * 1_000));
  const xTicks = logTicks(xMin, xMax, formatUs);
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...ps)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...ps)));
  return renderPlot({
    id,
    className: 'exceedance-plot',
    title,
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    x: { kind: 'log', min: xMin, max: xMax, label: 'latency', ticks: xTicks },
    y: {
      kind: 'log',
      min: yMin,
      max: yMax,
      label: 'P(latency > x) per wake-up',
      ticks: logTicks(yMin, yMax, (p) => p.toExponential(0)),
    },
    series: [
      { label: 'observed', color: colorOf(6), points: toUs(series.observed) },
      { label: series.trustworthy ? 'fitted GPD tail' : 'fitted GPD tail (NOT TRUSTWORTHY)', color: colorOf(0), points: toUs(series.fitted) },
      { label: 'confidence band, lower', color: colorOf(5), points: [], dashed: toUs(series.lower) },
      { label: 'upper', color: colorOf(1), points: [], dashed: toUs(series.upper) },
    ],
  });
}
