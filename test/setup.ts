// Run in every test file before its tests (vitest's setupFiles). When the file is done, its scratch
// folders go, and the run's temporary folder (test/global-setup.ts) must then be empty: anything
// else in it was left by rtlat or a tool the tests ran, and fails the file, named.
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, inject } from 'vitest';
import { removeScratchDirs } from './helpers/cli.js';

afterAll(() => {
  removeScratchDirs();
  const dir = inject('runTmpDir');
  const left = readdirSync(dir);
  for (const name of left) rmSync(path.join(dir, name), { recursive: true, force: true });
  expect(left, `left in the temporary folder ${dir} by this file's tests or what they ran`).toEqual([]);
});
