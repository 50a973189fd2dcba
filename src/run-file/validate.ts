// A run file read back is checked against its published schema (docs/run.schema.json) before any
// tool uses it, and every HDR histogram in it must decode: a file that parses but has a wrong field
// is refused in one line that names the field, not deep inside a table, a merge or a plot.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { decodeHistogram } from '../engine/histogram.js';
import type { RunFile } from './schema.js';

/** Shipped in the package beside dist/ (package.json "files"), one folder up from src/ and dist/ alike. */
export const RUN_SCHEMA_FILE = path.resolve(import.meta.dirname, '../../docs/run.schema.json');

let validator: ValidateFunction | null = null;

/** Compiled on the first read: commands that read no run file do not load ajv. */
function validate(): ValidateFunction {
  if (validator) return validator;
  const require = createRequire(import.meta.url);
  const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const ajv = new Ajv2020({ strict: true, verbose: true });
  // The ISO 8601 instants Date#toISOString writes (ajv-formats is not needed for this one format).
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  validator = ajv.compile(JSON.parse(readFileSync(RUN_SCHEMA_FILE, 'utf8')) as object);
  return validator;
}

/** "/threads/0/histogram" -> "threads[0].histogram". */
function fieldName(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part), '');
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function describe(error: ErrorObject): string {
  const field = fieldName(error.instancePath);
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') return `${field ? `${field}.` : ''}${String(params['missingProperty'])} is missing`;
  if (error.keyword === 'additionalProperties') return `${field ? `${field}.` : ''}${String(params['additionalProperty'])} is not a field of the schema`;
  const allowed = error.keyword === 'enum' ? ` (${(params['allowedValues'] as unknown[]).map(shown).join(', ')})` : '';
  return `${field || 'the top level'} ${error.message}${allowed}, got ${shown(error.data)}`;
}

/** The histograms a run file carries, by field name. */
function histogramFields(run: RunFile): [string, string | null][] {
  return [
    ...run.threads.flatMap((thread, index): [string, string | null][] => [
      [`threads[${index}].histogram`, thread.histogram],
      [`threads[${index}].correctedHistogram`, thread.correctedHistogram],
    ]),
    ['all.histogram', run.all.histogram],
  ];
}

/** Null when `data` is a run file the schema accepts and whose histograms decode; else the first problem, naming its field. */
export function runFileProblem(data: unknown): string | null {
  const check = validate();
  if (!check(data)) {
    // anyOf reports each alternative it tried; the last error is the one that decided.
    const errors = check.errors ?? [];
    const decisive = errors.find((error) => error.keyword !== 'anyOf' && error.keyword !== 'type') ?? errors[0];
    return decisive ? describe(decisive) : 'does not match docs/run.schema.json';
  }
  for (const [field, encoded] of histogramFields(data as RunFile)) {
    if (encoded === null) continue;
    try {
      decodeHistogram(encoded);
    } catch (error) {
      return `${field} is not an HdrHistogram (${(error as Error).message})`;
    }
  }
  return null;
}
