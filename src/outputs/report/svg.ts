// A small line-plot renderer for the report: inline SVG, no script, no fonts or files from anywhere.
// Linear or log axes, a grid, series as polylines (a part of each may be dashed), a legend that wraps.
import { escapeXml } from './escape.js';

export type Point = readonly [x: number, y: number];

export interface Tick {
  value: number;
  label: string;
}

export interface Axis {
  kind: 'linear' | 'log';
  min: number;
  max: number;
  ticks: Tick[];
  label: string;
}

export interface PlotSeries {
  label: string;
  color: string;
  /** Drawn solid. */
  points: Point[];
  /** Drawn dashed after the solid part (e.g. percentiles with too few samples behind them). */
  dashed?: Point[];
  /** A dot, e.g. at the maximum. */
  marker?: Point;
  /** The solid line's width instead of the stylesheet's, e.g. wider for series drawn under others. */
  widthPx?: number;
}

export interface PlotSpec {
  /** Unique in the page: the clip path's id derives from it. */
  id: string;
  className: string;
  /** For screen readers and the tooltip of the whole plot. */
  title: string;
  width: number;
  height: number;
  x: Axis;
  y: Axis;
  series: PlotSeries[];
  /** Legend entries that are not series, e.g. "dashed: too few samples". */
  legendNotes?: string[];
}

// The right margin leaves room for the last x tick's label, centred on the frame's edge.
const MARGIN = { left: 64, right: 36, top: 14, bottom: 46 };
const LEGEND_ROW_PX = 20;
/** Legend text is not measured (no layout engine here): a generous average width per character. */
const LEGEND_CHAR_PX = 7;

function project(axis: Axis, value: number, from: number, to: number): number {
  const [low, high, at] = axis.kind === 'log' ? [Math.log10(axis.min), Math.log10(axis.max), Math.log10(value)] : [axis.min, axis.max, value];
  return from + ((at - low) / (high - low)) * (to - from);
}

/** 1, 2, 5, 10, 20, 50...: the step of at most `count` ticks over [min, max]. */
export function niceStep(span: number, count: number): number {
  const raw = span / count;
  const decade = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].find((factor) => factor * decade >= raw) ?? 10) * decade;
}

/** The next 1-2-5 value at or above `value` (or at or below it, with `down`). */
export function niceBound(value: number, down = false): number {
  const decade = 10 ** Math.floor(Math.log10(value));
  const factors = [1, 2, 5, 10];
  const factor = down ? [...factors].reverse().find((f) => f * decade <= value * (1 + 1e-9)) : factors.find((f) => f * decade >= value * (1 - 1e-9));
  return (factor ?? 1) * decade;
}

export function linearTicks(min: number, max: number, format: (value: number) => string, count = 6): Tick[] {
  const step = niceStep(max - min, count);
  const ticks: Tick[] = [];
  for (let value = Math.ceil(min / step) * step; value <= max + step * 1e-9; value += step) ticks.push({ value, label: format(value) });
  return ticks;
}

/** Powers of ten in [min, max]; with few decades, also their 2 and 5 multiples. */
export function logTicks(min: number, max: number, format: (value: number) => string): Tick[] {
  const decades = Math.log10(max / min);
  const factors = decades <= 2.5 ? [1, 2, 5] : [1];
  const ticks: Tick[] = [];
  for (let exponent = Math.floor(Math.log10(min)); exponent <= Math.ceil(Math.log10(max)); exponent++) {
    for (const factor of factors) {
      const value = factor * 10 ** exponent;
      if (value >= min * (1 - 1e-9) && value <= max * (1 + 1e-9)) ticks.push({ value, label: format(value) });
    }
  }
  return ticks;
}

interface LegendEntry {
  label: string;
  color: string | null;
}

/** Places legend entries left to right, wrapping at `width`; returns each entry's position and the rows used. */
function layoutLegend(entries: readonly LegendEntry[], width: number): { placed: { entry: LegendEntry; x: number; row: number }[]; rows: number } {
  const placed: { entry: LegendEntry; x: number; row: number }[] = [];
  let x = 0;
  let row = 0;
  for (const entry of entries) {
    const entryWidth = (entry.color ? 26 : 0) + entry.label.length * LEGEND_CHAR_PX + 18;
    if (x > 0 && x + entryWidth > width) {
      row++;
      x = 0;
    }
    placed.push({ entry, x, row });
    x += entryWidth;
  }
  return { placed, rows: entries.length === 0 ? 0 : row + 1 };
}

function polyline(points: readonly Point[], toX: (x: number) => number, toY: (y: number) => number): string {
  return points.map(([x, y]) => `${toX(x).toFixed(1)},${toY(y).toFixed(1)}`).join(' ');
}

export function renderPlot(spec: PlotSpec): string {
  const { width, x, y } = spec;
  const legendEntries: LegendEntry[] = [
    ...spec.series.map((series) => ({ label: series.label, color: series.color })),
    ...(spec.legendNotes ?? []).map((label) => ({ label, color: null })),
  ];
  const legend = layoutLegend(legendEntries, width - MARGIN.left - MARGIN.right);
  const height = spec.height + legend.rows * LEGEND_ROW_PX;
  const [left, right, top, bottom] = [MARGIN.left, width - MARGIN.right, MARGIN.top, spec.height - MARGIN.bottom];
  const toX = (value: number) => project(x, value, left, right);
  const toY = (value: number) => project(y, value, bottom, top);
  const clip = `${spec.id}-clip`;

  const grid = [
    ...x.ticks.map((tick) => `<line class="grid" x1="${toX(tick.value).toFixed(1)}" x2="${toX(tick.value).toFixed(1)}" y1="${top}" y2="${bottom}"/>`),
    ...y.ticks.map((tick) => `<line class="grid" x1="${left}" x2="${right}" y1="${toY(tick.value).toFixed(1)}" y2="${toY(tick.value).toFixed(1)}"/>`),
  ];
  const labels = [
    ...x.ticks.map((tick) => `<text class="tick" x="${toX(tick.value).toFixed(1)}" y="${bottom + 16}" text-anchor="middle">${escapeXml(tick.label)}</text>`),
    ...y.ticks.map((tick) => `<text class="tick" x="${left - 6}" y="${(toY(tick.value) + 4).toFixed(1)}" text-anchor="end">${escapeXml(tick.label)}</text>`),
    `<text class="axis-label" x="${(left + right) / 2}" y="${bottom + 36}" text-anchor="middle">${escapeXml(x.label)}</text>`,
    `<text class="axis-label" transform="translate(14 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(y.label)}</text>`,
  ];
  const series = spec.series.map((item) => {
    // A run of fewer than ten samples has no solid part: every percentile of it is dashed.
    const width = item.widthPx === undefined ? '' : ` style="stroke-width:${item.widthPx}px"`;
    const parts = item.points.length > 1 ? [`<polyline class="line"${width} points="${polyline(item.points, toX, toY)}"/>`] : [];
    if (item.dashed && item.dashed.length > 1) parts.push(`<polyline class="line dashed" points="${polyline(item.dashed, toX, toY)}"/>`);
    if (item.marker) parts.push(`<circle class="marker" cx="${toX(item.marker[0]).toFixed(1)}" cy="${toY(item.marker[1]).toFixed(1)}" r="3"/>`);
    return `<g class="series" data-label="${escapeXml(item.label)}" stroke="${item.color}" fill="${item.color}"><title>${escapeXml(item.label)}</title>${parts.join('')}</g>`;
  });
  const legendItems = legend.placed.map(({ entry, x: at, row }) => {
    const baseline = spec.height + row * LEGEND_ROW_PX + 4;
    const lx = left + at;
    const swatch = entry.color ? `<line class="swatch" x1="${lx}" x2="${lx + 20}" y1="${baseline - 4}" y2="${baseline - 4}" stroke="${entry.color}"/>` : '';
    return `${swatch}<text class="legend${entry.color ? '' : ' note'}" x="${lx + (entry.color ? 26 : 0)}" y="${baseline}">${escapeXml(entry.label)}</text>`;
  });

  return [
    `<svg class="plot ${spec.className}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(spec.title)}" xmlns="http://www.w3.org/2000/svg">`,
    `<title>${escapeXml(spec.title)}</title>`,
    `<defs><clipPath id="${clip}"><rect x="${left}" y="${top - 4}" width="${right - left}" height="${bottom - top + 4}"/></clipPath></defs>`,
    `<g class="grid">${grid.join('')}</g>`,
    `<rect class="frame" x="${left}" y="${top}" width="${right - left}" height="${bottom - top}"/>`,
    `<g class="labels">${labels.join('')}</g>`,
    `<g class="data" clip-path="url(#${clip})">${series.join('')}</g>`,
    `<g class="legend">${legendItems.join('')}</g>`,
    '</svg>',
  ].join('\n');
}
