// Shared by the fingerprint tests: where the fixture trees are, and a walk over every field.
import path from 'node:path';
import { expect } from 'vitest';

export const fixtures = path.resolve(import.meta.dirname, '../fixtures/fingerprint');

export function fixture(name: string): string {
  return path.join(fixtures, name);
}

/** Every { value, source } / { value: null, reason } object in a fingerprint, by its path. */
export function fieldsOf(value: unknown, at = ''): [string, Record<string, unknown>][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const record = value as Record<string, unknown>;
  if ('value' in record && ('source' in record || 'reason' in record)) return [[at, record]];
  return Object.entries(record).flatMap(([key, item]) => fieldsOf(item, at === '' ? key : `${at}.${key}`));
}

/** Each field either has a value and a source, or is null with a reason: never both, never neither. */
export function expectWellFormed(value: unknown): void {
  const fields = fieldsOf(value);
  expect(fields.length).toBeGreaterThan(30);
  for (const [at, field] of fields) {
    if (field.value === null) {
      expect(typeof field.reason, at).toBe('string');
      expect((field.reason as string).length, at).toBeGreaterThan(0);
      expect(field, at).not.toHaveProperty('source');
    } else {
      expect(typeof field.source, at).toBe('string');
      expect((field.source as string).length, at).toBeGreaterThan(0);
      expect(field, at).not.toHaveProperty('reason');
    }
  }
}
