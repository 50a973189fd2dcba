// The report's explain view: the summary, and one stacked bar per explained wake-up whose pieces are
// its segments, in order and in proportion; checked in the markup and in a real headless Chromium.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { labelRuns } from '../src/run-file/environment.js';
import { renderReport } from '../src/outputs/report/report.js';
import type { RunFile } from '../src/run-file/schema.js';
import { ARTIFACTS, chromium, withChromium } from './helpers/chromium.js';
import { handBuiltExplain, handBuiltRun, handBuiltThread } from './helpers/runs.js';
import { itWithTool } from './helpers/tools.js';

function explainedRun(): RunFile {
  const explain = handBuiltExplain();
  // A culprit with markup in its name: the report must show it as text.
  explain.wakeups[1]!.segments[2]!.culprit = '<b>NET_RX</b>';
  return handBuiltRun([handBuiltThread({ thread: 0 }), handBuiltThread({ thread: 1 })], { explain });
}

function render(run: RunFile): string {
  return renderReport(labelRuns([{ file: 'explained.json', run }]), { rtlatVersion: '9.9.9', generatedAt: new Date('2026-11-27T08:00:00Z') });
}

describe('the report of an explained run', () => {
  const run = explainedRun();
  const html = render(run);

  it('leads with where the late time went, then the parts and the named causes', () => {
    expect(html).toContain('<h3>Why the late wake-ups were late</h3>');
    expect(html).toContain(`<p><strong>${run.explain!.summary.headline.replace(/</g, '&lt;').replace(/>/g, '&gt;')}</strong></p>`);
    expect(html).toContain('<td>thread interference rtlat-burst (pid 4242)</td>');
    expect(html).toContain('12 trace events were lost');
  });

  it('draws one bar per explained wake-up, a piece per segment, widths in proportion and adding up to the bar', () => {
    const bars = [...html.matchAll(/<div class="bar">(.*?)<\/div>/g)].map((match) => match[1]!);
    expect(bars).toHaveLength(run.explain!.wakeups.length);
    bars.forEach((bar, index) => {
      const wakeup = run.explain!.wakeups[index]!;
      const widths = [...bar.matchAll(/width:([\d.]+)%/g)].map((match) => Number(match[1]));
      expect(widths).toHaveLength(wakeup.segments.length);
      widths.forEach((width, piece) => expect(width).toBeCloseTo((100 * wakeup.segments[piece]!.ns) / wakeup.latencyNs, 2));
      expect(widths.reduce((sum, width) => sum + width, 0)).toBeCloseTo(100, 1);
    });
  });

  it('escapes the culprits it names', () => {
    expect(html).not.toContain('<b>NET_RX</b>');
    expect(html).toContain('&lt;b&gt;NET_RX&lt;/b&gt;');
  });

  it('has no explain view for a run without one', () => {
    const { explain: _explain, ...plain } = run;
    expect(render(plain as RunFile)).not.toContain('Why the late wake-ups were late');
  });
});

describe('the explained report in a real browser', () => {
  itWithTool(chromium, 'lays each bar\'s pieces end to end across the bar', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const page = path.join(ARTIFACTS, 'report-explain.html');
    writeFileSync(page, render(explainedRun()));
    await withChromium(async (context) => {
      const tab = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      tab.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
      await tab.goto(`file://${page}`, { waitUntil: 'load' });
      const bars = await tab.evaluate(() =>
        [...document.querySelectorAll('.bar')].map((bar) => ({
          width: bar.getBoundingClientRect().width,
          pieces: [...bar.querySelectorAll('.piece')].map((piece) => piece.getBoundingClientRect().width),
        })),
      );
      expect(problems).toEqual([]);
      expect(bars).toHaveLength(2);
      for (const bar of bars) {
        expect(bar.width).toBeGreaterThan(300);
        expect(Math.abs(bar.pieces.reduce((sum, width) => sum + width, 0) - bar.width)).toBeLessThan(2);
      }
      await tab.screenshot({ path: path.join(ARTIFACTS, 'report-explain.png'), fullPage: true });
    });
  }, 60_000);
});
