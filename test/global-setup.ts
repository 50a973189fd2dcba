// vitest's globalSetup: the run gets a temporary folder of its own, as TMPDIR, which the test
// processes and everything they start (rtlat, QEMU, Chromium, Java, podman) inherit. After each test
// file, test/setup.ts empties it and fails the file if anything but its scratch folders was left;
// at the end of the run it goes, so that nothing the tests make stays in /tmp.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's temporary folder (TMPDIR in every test process). */
    runTmpDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtlat-tests-'));
  // Sticky and writable by all, as /tmp is: some tests run their children as nobody.
  chmodSync(dir, 0o1777);
  const given = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  project.provide('runTmpDir', dir);
  return () => {
    rmSync(dir, { recursive: true, force: true });
    if (given === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = given;
  };
}
