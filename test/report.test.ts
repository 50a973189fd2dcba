// The HTML report: its plots' data from known samples, a page that needs nothing from the network, the
// command, and the page opened in a real headless Chromium (screenshot and PDF kept in test-artifacts/).
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { labelRuns } from '../src/run-file/environment.js';
import { importCyclictestJson } from '../src/import/cyclictest.js';
import { newHistogram } from '../src/engine/histogram.js';
import { histogramBins, percentileSpectrum } from '../src/outputs/report/plots.js';
import { renderReport } from '../src/outputs/report/report.js';
import type { RunFile } from '../src/run-file/schema.js';
import { rtlat, scratchDir } from './helpers/cli.js';
import { ARTIFACTS, chromium, withChromium } from './helpers/chromium.js';
import { fingerprintFor, inputsOf, range, runOf, threadOf, writeRuns } from './helpers/compare-runs.js';
import { fixture } from './helpers/runs.js';
import { itWithTool } from './helpers/tools.js';

/** A host, a guest and two cyclictest imports (one kept a histogram, one did not): the report's cases. */
function reportRuns(): Record<string, RunFile> {
  return {
    host: runOf([threadOf(0, [...range(2_000, 12_000, 2), 31_000]), threadOf(1, [...range(2_500, 14_000, 3), 45_000])], { environment: fingerprintFor('bare metal', 'RT') }),
    guest: runOf([threadOf(0, [...range(4_000, 40_000, 4), 180_000]), threadOf(1, [...range(3_000, 30_000, 5), 95_000, 260_000])], {
      environment: fingerprintFor('kvm', 'NRT'),
    }),
    cyclictest: importCyclictestJson(fixture('run-histogram.json'), { rtlatVersion: 'test' }),
    'cyclictest-no-histogram': importCyclictestJson(fixture('run.json'), { rtlatVersion: 'test' }),
  };
}

/** The markup of every <svg> with `className`. */
function svgs(html: string, className: string): string[] {
  return [...html.matchAll(new RegExp(`<svg class="plot ${className}"[\\s\\S]*?</svg>`, 'g'))].map((match) => match[0]);
}

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(new RegExp(pattern, 'g'))].length;
}

describe('plot data', () => {
  it('the percentile spectrum of 1..100000 ns: solid while 10 samples lie beyond, then dashed to the maximum', () => {
    const histogram = newHistogram();
    for (const value of range(1, 100_000)) histogram.recordValue(value);
    const spectrum = percentileSpectrum(histogram, 100_000)!;
    // p99.99 (4 nines) needs 100,000 samples: the last solid point; 5 nines is the last sample.
    expect(spectrum.solid.at(-1)![0]).toBeCloseTo(4, 9);
    expect(spectrum.dashed[0]).toEqual(spectrum.solid.at(-1));
    expect(spectrum.dashed.at(-1)).toEqual([5, 100]);
    expect(spectrum.max).toEqual([5, 100]);
    const at = (nines: number) => spectrum.solid.find(([x]) => Math.abs(x - nines) < 1e-9)![1];
    expect(at(0)).toBe(0.001);
    for (const [nines, us] of [[1, 90], [2, 99], [3, 99.9]] as const) expect(Math.abs(at(nines) - us) / us).toBeLessThan(0.001);
  });

  it('histogram bins count samples at the middle of their bucket', () => {
    const histogram = newHistogram();
    for (const value of range(1_000, 2_999)) histogram.recordValue(value);
    // 250,000 ns lies in the bucket [249,984, 250,112): its middle is in the 250us bin, its lowest value is not.
    histogram.recordValueWithCount(250_000, 3);
    expect([...histogramBins(histogram, 1_000)]).toEqual([[1, 1_000], [2, 1_000], [250, 3]]);
  });
});

describe('renderReport', () => {
  const runs = labelRuns(inputsOf(reportRuns()));
  const html = renderReport(runs, { rtlatVersion: '9.9.9', generatedAt: new Date('2026-11-27T08:00:00Z') });

  it('has one percentile plot with a series per run that kept a histogram, and a histogram plot per such run', () => {
    const [spectrum, ...others] = svgs(html, 'percentile-plot');
    expect(others).toEqual([]);
    expect(count(spectrum!, /<g class="series"/)).toBe(3);
    expect(spectrum).toContain('cyclictest-no-histogram.json: no histogram');
    expect(svgs(html, 'histogram-plot').map((plot) => count(plot, /<g class="series"/))).toEqual([2, 2, 1]);
    expect(html).toContain('No histogram was kept for this run');
  });

  it('shows the comparison, the warnings and each run\'s environment', () => {
    expect(count(html, /<tr><td class="label">/)).toBe(4);
    expect(html).toContain('<li>period differs: 200us (host / PREEMPT_RT, guest kvm / PREEMPT_DYNAMIC), 500us (cyclictest.json, cyclictest-no-histogram.json)</li>');
    expect(html).toContain('<dt>where</dt><dd>guest kvm / PREEMPT_DYNAMIC</dd>');
    expect(html).toContain('<summary>The whole environment fingerprint</summary>');
    expect(count(html, /Not recorded in this run file/)).toBe(2);
  });

  it('needs nothing from elsewhere: no script, link, image or URL but the SVG namespace', () => {
    expect(html).not.toMatch(/<script|<link|<img|<iframe|<object|@import|\bsrc=|\bhref=/i);
    expect([...new Set(html.match(/\bhttps?:\/\/[^"'\s)]+/g))]).toEqual(['http://www.w3.org/2000/svg']);
    expect(html.match(/url\([^)]*\)/g)!.every((reference) => reference.startsWith('url(#'))).toBe(true);
  });

  it('escapes what the run files say', () => {
    const [first] = labelRuns(inputsOf({ a: runOf([threadOf(0, range(1, 10))]) }), ['<b>"x" & y</b>']);
    const page = renderReport([first!], { rtlatVersion: '9.9.9' });
    expect(page).not.toContain('<b>');
    expect(page).toContain('&lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;');
  });
});

describe('renderReport: what users met', () => {
  const guestBlock = (accelerator: 'kvm' | 'tcg'): NonNullable<RunFile['guest']> => ({
    accelerator,
    emulated: accelerator === 'tcg',
    acceleratorReason: accelerator === 'tcg' ? '/dev/kvm is absent' : 'a KVM probe boot came up',
    kernel: { path: '/boot/vmlinuz-6.1.0-57-rt-amd64', release: '6.1.0-57-rt-amd64' },
    qemu: { path: '/usr/bin/qemu-system-x86_64', version: '7.2.19' },
    vcpus: 2,
    memoryMiB: 1024,
    vcpuCpus: [2, 3],
    qemuPriority: 95,
    guestCommandLine: 'rtlat measure --period 100us --json /run.json',
  });

  it('draws each thread\'s histogram line wider than the next one, so that a line on top of another leaves it showing', () => {
    const same = runOf([threadOf(0, range(1_000, 9_000, 4)), threadOf(1, range(1_000, 9_000, 4))]);
    const page = renderReport(labelRuns(inputsOf({ same })), { rtlatVersion: '9.9.9' });
    const [plot] = svgs(page, 'histogram-plot');
    expect([...plot!.matchAll(/<polyline class="line" style="stroke-width:([\d.]+)px"/g)].map((match) => Number(match[1]))).toEqual([2.75, 1.25]);
  });

  it('has no "period differs" warning for a sweep, where the period is what varies', () => {
    const short = runOf([threadOf(0, range(1, 100))]);
    const sweep = labelRuns(inputsOf({ short, long: { ...short, config: { ...short.config, periodNs: 1_000_000 } } }));
    expect(renderReport(sweep, { rtlatVersion: '9.9.9' })).toContain('period differs');
    expect(renderReport(sweep, { rtlatVersion: '9.9.9', sweep: true })).not.toContain('period differs');
  });

  it('shows a guest run\'s guest block, and says EMULATED for a TCG guest, in its heading and in the warnings', () => {
    const runs = labelRuns(
      inputsOf({
        tcg: runOf([threadOf(0, range(1, 100))], { environment: fingerprintFor('kvm', 'RT'), guest: guestBlock('tcg') }),
        kvm: runOf([threadOf(0, range(1, 100))], { environment: fingerprintFor('kvm', 'RT'), guest: guestBlock('kvm') }),
      }),
      ['under tcg', 'under kvm'],
    );
    const page = renderReport(runs, { rtlatVersion: '9.9.9' });
    expect(count(page, /<span class="emulated">EMULATED<\/span>/)).toBe(1);
    expect(page).toMatch(/<h2>.*under tcg <span class="emulated">EMULATED<\/span>/);
    expect(page).toContain('<li>under tcg was measured in an emulated guest (QEMU TCG): its latencies are the emulator&#39;s, not a hypervisor&#39;s</li>');
    expect(count(page, /<h3>Guest<\/h3>/)).toBe(2);
    expect(page).toContain('<dt>accelerator</dt><dd>TCG: EMULATED, the latencies are QEMU&#39;s emulator&#39;s, not a hypervisor&#39;s (/dev/kvm is absent)</dd>');
    expect(page).toContain('<dt>accelerator</dt><dd>KVM (a KVM probe boot came up)</dd>');
    expect(page).toContain('<dt>QEMU</dt><dd>/usr/bin/qemu-system-x86_64, version 7.2.19</dd>');
    expect(page).toContain('<dt>vCPUs</dt><dd>2, pinned to host CPU 2, 3</dd>');
    expect(page).toContain('<dt>vCPU threads</dt><dd>SCHED_FIFO 95</dd>');
  });
});

describe('rtlat report', () => {
  it('writes the page atomically, and refuses an output it cannot write', () => {
    const dir = scratchDir();
    const files = writeRuns(dir, reportRuns());
    const output = path.join(dir, 'report.html');
    const outcome = rtlat(['report', ...files, '-o', output, '--title', 'Host vs guest']);
    expect(outcome).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(readFileSync(output, 'utf8')).toMatch(/^<!DOCTYPE html>[\s\S]*<h1>Host vs guest<\/h1>[\s\S]*<\/html>\n$/);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    const refused = rtlat(['report', files[0]!, '-o', '/nonexistent/report.html']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toBe('rtlat report: --output: got "/nonexistent/report.html", expected a file path in an existing, writable folder; /nonexistent: no such file or directory (ENOENT)\n');
  });
});

describe('the report in a real browser', () => {
  itWithTool(chromium, 'renders without errors: the plots, one series per run, the tables; screenshot and PDF kept', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const files = writeRuns(scratchDir(), reportRuns());
    const page = path.join(ARTIFACTS, 'report.html');
    expect(rtlat(['report', ...files, '-o', page]).status).toBe(0);

    await withChromium(async (context) => {
      const tab = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      const requests: string[] = [];
      tab.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
      });
      tab.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      tab.on('request', (request) => requests.push(request.url()));
      await tab.goto(`file://${page}`, { waitUntil: 'load' });

      const seen = await tab.evaluate(() => {
        const all = (selector: string, root: ParentNode = document) => [...root.querySelectorAll(selector)];
        const spectrum = document.querySelector('svg.percentile-plot')!;
        return {
          spectrumSeries: all('g.series', spectrum).map((series) => series.getAttribute('data-label')),
          spectrumWidth: spectrum.getBoundingClientRect().width,
          linePoints: all('g.series polyline', spectrum).map((line) => (line as SVGPolylineElement).points.length),
          histogramSeries: all('svg.histogram-plot').map((plot) => all('g.series', plot).length),
          comparisonRows: all('table.comparison tbody tr').length,
          runSections: all('section.run').length,
        };
      });
      expect(problems).toEqual([]);
      expect(requests).toEqual([`file://${page}`]);
      expect(seen.spectrumSeries).toEqual(['host / PREEMPT_RT', 'guest kvm / PREEMPT_DYNAMIC', 'cyclictest.json']);
      expect(seen.spectrumWidth).toBeGreaterThan(800);
      expect(Math.min(...seen.linePoints)).toBeGreaterThan(1);
      expect(seen.histogramSeries).toEqual([2, 2, 1]);
      expect(seen.comparisonRows).toBe(4);
      expect(seen.runSections).toBe(4);

      await tab.screenshot({ path: path.join(ARTIFACTS, 'report.png'), fullPage: true });
      await tab.pdf({ path: path.join(ARTIFACTS, 'report.pdf'), format: 'A4', margin: { top: '12mm', bottom: '12mm', left: '12mm', right: '12mm' } });
    });
    expect(readFileSync(path.join(ARTIFACTS, 'report.png')).subarray(1, 4).toString()).toBe('PNG');
    expect(readFileSync(path.join(ARTIFACTS, 'report.pdf')).subarray(0, 5).toString()).toBe('%PDF-');
  }, 60_000);
});
