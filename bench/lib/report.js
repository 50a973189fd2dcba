// A section of the results is tables and paragraphs, rendered as aligned text on the terminal and as
// markdown in RESULTS.md, plus the targets it checked.
import { renderTable } from '../../dist/outputs/grid.js';

/**
 * @typedef {{ kind: 'table', header: string[], rows: string[][] } | { kind: 'text', text: string }} Block
 */

/**
 * @typedef {object} TargetCheck
 * @property {string} name
 * @property {string} goal
 * @property {string} measured
 * @property {boolean | null} met null when it could not be measured in this run
 * @property {string} [miss] by how much, why, and what would close it: shown when missed
 */

/**
 * @typedef {object} Section
 * @property {string} title
 * @property {Block[]} blocks
 * @property {TargetCheck[]} targets
 * @property {string[]} commands one example of each command the section ran
 */

/** @param {string[]} header @param {string[][]} rows @returns {Block} */
export function table(header, rows) {
  return { kind: 'table', header, rows };
}

/** @param {string} text @returns {Block} */
export function text(text) {
  return { kind: 'text', text };
}

/** @param {Section} section */
export function sectionAsText(section) {
  const body = section.blocks.map((block) => (block.kind === 'table' ? renderTable(block.header, block.rows, 'text') : `${block.text}\n`));
  return `== ${section.title}\n\n${body.join('\n')}`;
}

/** @param {Section} section */
export function sectionAsMarkdown(section) {
  const body = section.blocks.map((block) => (block.kind === 'table' ? renderTable(block.header, block.rows, 'markdown') : `${block.text}\n`));
  return `## ${section.title}\n\n${body.join('\n')}`;
}

/** @param {readonly number[]} values */
export function median(values) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] ?? NaN : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

/** A quotient that is '-' rather than Infinity or NaN when it has no meaning. @param {number} a @param {number} b */
export function ratio(a, b) {
  return b > 0 ? a / b : NaN;
}

/** @param {number} value @param {number} [digits] */
export function fixed(value, digits = 2) {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** @param {number} share a fraction, shown as a percentage @param {number} [digits] */
export function percent(share, digits = 1) {
  return Number.isFinite(share) ? `${(share * 100).toFixed(digits)}%` : '-';
}
