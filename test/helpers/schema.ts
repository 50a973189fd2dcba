// docs/run.schema.json, compiled once for every test that checks a run file against it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';

export const runSchema = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../docs/run.schema.json'), 'utf8')) as Record<string, unknown>;
const ajv = new Ajv2020({ allErrors: true, strict: true });
// The ISO 8601 instants Date#toISOString writes (ajv-formats is not needed for this one format).
ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
const validate = ajv.compile(runSchema);

/** True when docs/run.schema.json is itself a valid draft 2020-12 schema. */
export function schemaIsValid(): boolean {
  return ajv.validateSchema(runSchema) === true;
}

/** '' when `run` is a valid run file, else ajv's errors, one per line. */
export function schemaProblems(run: unknown): string {
  // Through JSON, as a reader gets it: no undefined fields, no class instances.
  return validate(JSON.parse(JSON.stringify(run))) ? '' : ajv.errorsText(validate.errors, { separator: '\n' });
}
