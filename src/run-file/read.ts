// Reading run files back for compare, merge and report. A wrong file, a wrong version or a wrong
// field (src/run-file/validate.ts) fails in one clear line instead of deep inside a table or a plot.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { RUN_SCHEMA, RUN_SCHEMA_VERSION, type RunFile } from './schema.js';
import { runFileProblem } from './validate.js';

/** A run file and where it came from: the file name labels it when nothing better does. */
export interface RunInput {
  file: string;
  run: RunFile;
}

/** Reads `file` as a run file; throws an Error whose message names the file and the problem in one line. */
export function readRunFile(file: string): RunInput {
  const text = readText(file);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`${file}: not a run file (invalid JSON; cyclictest's JSON needs 'rtlat import cyclictest' first)`);
  }
  return { file, run: checkRunFile(file, data) };
}

function checkRunFile(file: string, data: unknown): RunFile {
  const record = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  if (record['schema'] !== RUN_SCHEMA) {
    throw new Error(`${file}: not a run file (no "schema": "${RUN_SCHEMA}"; cyclictest's JSON needs 'rtlat import cyclictest' first)`);
  }
  if (record['schemaVersion'] !== RUN_SCHEMA_VERSION) {
    throw new Error(`${file}: run file schema version ${JSON.stringify(record['schemaVersion'])}, this rtlat reads version ${RUN_SCHEMA_VERSION}`);
  }
  const problem = runFileProblem(data);
  if (problem) throw new Error(`${file}: not a valid run file: ${problem}`);
  return data as RunFile;
}

/** The text of `file`; throws an Error whose message names the file and the error's code. */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${JSON.stringify(file)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** The file's name without its folder, for labels and messages. */
export function shortName(file: string): string {
  return path.basename(file);
}
