// What every section of a benchmark run shares: its settings, a scratch directory for the tools'
// result files, progress lines on stderr, every rtlat run made (for the dropped-samples target) and
// the cyclictest version seen.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runTool } from './tools.js';

/** @typedef {import('./tools.js').ToolRun} ToolRun */
/** @typedef {import('./tools.js').Tool} Tool */

/**
 * @typedef {object} BenchSettings
 * @property {boolean} quick
 * @property {number[]} cpus the measured CPUs, one thread on each
 * @property {number} pairs side-by-side pairs per period
 * @property {number} memoryDurationS
 */

export class BenchContext {
  /** @param {BenchSettings} settings */
  constructor(settings) {
    this.settings = settings;
    this.directory = mkdtempSync(path.join(os.tmpdir(), 'rtlat-bench-'));
    /** @type {ToolRun[]} */
    this.rtlatRuns = [];
    /** @type {string | null} as cyclictest's run files state it */
    this.cyclictestVersion = null;
    this.files = 0;
  }

  /**
   * Runs one tool on every measured CPU and keeps rtlat's runs for the targets that look across sections.
   * @param {Tool} tool
   * @param {{ periodUs: number, durationS: number, histogram?: boolean, sampleMs: number }} what
   */
  async measure(tool, { periodUs, durationS, histogram = false, sampleMs }) {
    this.files += 1;
    const jsonPath = path.join(this.directory, `${String(this.files).padStart(3, '0')}-${tool}-${periodUs}us.json`);
    const run = await runTool(tool, { periodUs, durationS, cpus: this.settings.cpus, jsonPath, histogram }, { sampleMs });
    if (tool === 'rtlat') this.rtlatRuns.push(run);
    else this.cyclictestVersion = run.run.tool.version;
    return run;
  }

  /** @param {string} message */
  progress(message) {
    process.stderr.write(`bench: ${message}\n`);
  }

  close() {
    rmSync(this.directory, { recursive: true, force: true });
  }
}
