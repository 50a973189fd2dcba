// A real headless Chromium (Debian's), driven by playwright-core, for tests that look at rtlat's HTML
// the way a reader will. The machine's network is closed: without these flags Chromium spends its start
// trying to reach update, sync and field-trial servers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium as playwright } from 'playwright-core';
import { commandRuns, requireTool } from './tools.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const chromium = requireTool('chromium', commandRuns(CHROMIUM_PATH, ['--version']), 'apt-get install chromium');

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Runs `use` in a fresh browser with a new, empty profile (playwright passes it as --user-data-dir), then removes both. */
export async function withChromium<T>(use: (context: BrowserContext) => Promise<T>): Promise<T> {
  const profile = mkdtempSync(path.join(tmpdir(), 'rtlat-chromium-'));
  const context = await playwright.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ARGS,
    viewport: { width: 1200, height: 900 },
  });
  try {
    return await use(context);
  } finally {
    await context.close();
    // Chromium's helpers may still be writing into the profile for a moment after it closed.
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/** Test artifacts (screenshots, PDFs) go here: git-ignored, kept by CI. */
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');
