// The report's stylesheet, inlined into the page: system fonts only, nothing fetched, and a print layout.
export const REPORT_CSS = `
:root {
  --ink: #1f2328; --muted: #59636e; --rule: #d1d9e0; --paper: #ffffff; --band: #f6f8fa;
  --warn-ink: #7d4e00; --warn-paper: #fff8c5; --warn-rule: #d4a72c;
  --worse: #b3261e; --better: #1a7f37;
}
* { box-sizing: border-box; }
html { background: var(--band); }
body {
  margin: 0 auto; max-width: 1040px; padding: 28px 32px 48px; background: var(--paper); color: var(--ink);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
}
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--rule); }
h3 { font-size: 14px; margin: 18px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
p.lead { margin: 0; color: var(--muted); }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .88em; }
.warnings { margin: 20px 0 0; padding: 10px 14px 10px 34px; background: var(--warn-paper); color: var(--warn-ink);
  border: 1px solid var(--warn-rule); border-radius: 6px; }
.warnings li { margin: 2px 0; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 8px; text-align: right; white-space: nowrap; border-bottom: 1px solid var(--rule); }
th { font-weight: 600; color: var(--muted); font-size: 12px; border-bottom: 2px solid var(--rule); }
th:first-child, td:first-child { text-align: left; }
td.label { white-space: normal; min-width: 200px; }
tbody tr:nth-child(even) { background: var(--band); }
.ratio { display: block; font-size: 11px; color: var(--muted); }
.ratio.worse { color: var(--worse); }
.ratio.better { color: var(--better); }
.weak { color: var(--muted); font-style: italic; }
.notes { color: var(--muted); font-size: 12px; margin: 6px 0 0; padding-left: 18px; }
.swatch-box { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 8px; vertical-align: -1px; }
figure { margin: 12px 0 0; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 2px; }
svg.plot { display: block; width: 100%; height: auto; }
svg.plot text { font-family: system-ui, "DejaVu Sans", sans-serif; fill: var(--ink); }
svg.plot .tick { font-size: 11px; fill: var(--muted); }
svg.plot .axis-label { font-size: 12px; }
svg.plot .legend { font-size: 12px; }
svg.plot .legend.note { fill: var(--muted); font-style: italic; }
svg.plot line.grid, svg.plot g.grid line { stroke: #e6eaef; stroke-width: 1; }
svg.plot .frame { fill: none; stroke: var(--rule); }
svg.plot .line { fill: none; stroke-width: 2; stroke-linejoin: round; }
svg.plot .histogram-plot .line, svg.plot.histogram-plot .line { stroke-width: 1.25; }
svg.plot .dashed { stroke-dasharray: 5 4; stroke-width: 1.5; }
svg.plot .swatch { stroke-width: 3; }
svg.plot .marker { stroke: var(--paper); stroke-width: 1.5; }
section.run { margin-top: 40px; }
section.run h2 { display: flex; align-items: baseline; gap: 0; }
section.run h2 .file { margin-left: auto; font-weight: 400; font-size: 12px; color: var(--muted); }
section.run h2 .emulated { margin-left: 10px; padding: 0 5px; border: 1px solid var(--worse); border-radius: 3px; font-size: 12px; color: var(--worse); }
.facts { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 32px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
details { margin-top: 12px; }
summary { cursor: pointer; color: var(--muted); }
details pre { background: var(--band); padding: 10px 12px; border-radius: 6px; overflow-x: auto; white-space: pre-wrap; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
.facts.explain-tables { align-items: start; }
table.explain-bars td.bar-cell { width: 70%; }
.bar { display: flex; height: 14px; border-radius: 3px; overflow: hidden; background: var(--band); }
.bar .piece { display: block; height: 100%; min-width: 1px; }
ul.legend-parts { list-style: none; padding: 0; margin: 4px 0; display: flex; flex-wrap: wrap; gap: 4px 16px; }
@media print {
  /* Swatches and the warning box carry meaning in their colors: print them. */
  * { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  html, body { background: #fff; }
  body { max-width: none; padding: 0; font-size: 11px; }
  h2 { break-after: avoid; }
  figure, table, .facts, .warnings { break-inside: avoid; }
  section.run { break-before: page; }
  details pre { white-space: pre-wrap; }
}
`;
