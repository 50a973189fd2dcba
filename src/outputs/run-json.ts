// A run file as every command writes it (docs/run-schema.md): indented JSON, whole or not at all.
import type { RunFile } from '../run-file/schema.js';
import { writeFileAtomic } from './atomic-file.js';

export function runFileText(run: RunFile): string {
  return `${JSON.stringify(run, null, 2)}\n`;
}

export function writeRunFile(path: string, run: RunFile): void {
  writeFileAtomic(path, runFileText(run));
}
