// Tests that need an outside tool (java, cyclictest, ...) skip with a title that says what is missing
// and how to install it, except in CI: there RTLAT_REQUIRE_TOOLS=1 and a missing tool fails the test
// instead, so that a broken CI image cannot turn a whole check into a silent skip.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { it } from 'vitest';

export const toolsRequired = process.env.RTLAT_REQUIRE_TOOLS === '1';

export interface ToolRequirement {
  /** True when the tool can run here. */
  available: boolean;
  /** Whether tests needing it skip: never when RTLAT_REQUIRE_TOOLS=1. */
  skip: boolean;
  /** For test titles: " (needs NAME: HOW)". */
  note: string;
}

/**
 * Decides what tests needing a tool do: run when it is available, skip (the title says why) when it
 * is not, and fail when it is not but RTLAT_REQUIRE_TOOLS=1. Use with `it.skipIf(tool.skip)` and put
 * `tool.note` in the title; call `assertTool(tool)` first in the test body.
 */
export function requireTool(name: string, available: boolean, howToInstall: string): ToolRequirement {
  return { available, skip: !available && !toolsRequired, note: ` (needs ${name}: ${howToInstall})` };
}

/** In a test body: fails with the install hint when the tool is missing (only reached under RTLAT_REQUIRE_TOOLS=1). */
export function assertTool(tool: ToolRequirement): void {
  if (!tool.available) throw new Error(`RTLAT_REQUIRE_TOOLS=1 but a required tool is missing${tool.note}`);
}

/** True when `command args...` runs and exits 0. */
export function commandRuns(command: string, args: string[] = ['--version']): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 });
  return result.error === undefined && result.status === 0;
}

/** The first of `paths` that exists, or null. */
export function firstExisting(paths: readonly string[]): string | null {
  return paths.find((candidate) => existsSync(candidate)) ?? null;
}

/** `it`, skipped or required per the tool: the title gets the tool's note. */
export function itWithTool(tool: ToolRequirement, title: string, body: () => void | Promise<void>, timeoutMs?: number): void {
  it.skipIf(tool.skip)(`${title}${tool.note}`, async () => {
    assertTool(tool);
    await body();
  }, timeoutMs);
}
