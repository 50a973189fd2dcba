// An event's binary layout, from its tracefs `format` file: the ID its records carry and where each
// field sits, so that raw pages can be read without libtraceevent.
export interface FieldFormat {
  name: string;
  offset: number;
  size: number;
  signed: boolean;
  /** A `__data_loc` (or `__rel_loc`) field: a u32 giving where a variable-length string lies. */
  location: 'inline' | 'data_loc' | 'rel_loc';
  /** `char name[16]`: a fixed-size string. */
  isString: boolean;
}

export interface EventFormat {
  system: string;
  name: string;
  id: number;
  fields: Map<string, FieldFormat>;
}

const FIELD = /^\s*field:(.+?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d);/;

export function parseEventFormat(system: string, text: string): EventFormat {
  const name = /^name:\s*(\S+)/m.exec(text)?.[1];
  const id = Number(/^ID:\s*(\d+)/m.exec(text)?.[1]);
  if (name === undefined || !Number.isInteger(id)) throw new Error(`rtlat: cannot read the format of ${system} events (no name or ID)`);
  const fields = new Map<string, FieldFormat>();
  for (const line of text.split('\n')) {
    const match = FIELD.exec(line);
    if (!match) continue;
    const declaration = match[1]!.trim();
    const fieldName = /(\w+)\s*(\[\d*\])?$/.exec(declaration)?.[1];
    if (fieldName === undefined) continue;
    const location = declaration.startsWith('__data_loc') ? 'data_loc' : declaration.startsWith('__rel_loc') ? 'rel_loc' : 'inline';
    fields.set(fieldName, {
      name: fieldName,
      offset: Number(match[2]),
      size: Number(match[3]),
      signed: match[4] === '1',
      location,
      isString: location !== 'inline' || /\bchar\b.*\[\d+\]$/.test(declaration),
    });
  }
  return { system, name, id, fields };
}

/** A reader of one field of an event's record (the record begins at `start` in `page`). */
export type FieldReader<T> = (page: Buffer, start: number) => T;

function field(format: EventFormat, name: string): FieldFormat {
  const found = format.fields.get(name);
  if (!found) throw new Error(`rtlat: the ${format.system}:${format.name} event has no field "${name}" on this kernel`);
  return found;
}

export function numberField(format: EventFormat, name: string): FieldReader<number> {
  const { offset, size, signed } = field(format, name);
  switch (size) {
    case 1:
      return signed ? (page, start) => page.readInt8(start + offset) : (page, start) => page.readUInt8(start + offset);
    case 2:
      return signed ? (page, start) => page.readInt16LE(start + offset) : (page, start) => page.readUInt16LE(start + offset);
    case 4:
      return signed ? (page, start) => page.readInt32LE(start + offset) : (page, start) => page.readUInt32LE(start + offset);
    case 8:
      // Pointers and 64-bit counts: exact as doubles up to 2^53, close enough beyond for what rtlat does with them.
      return signed ? (page, start) => Number(page.readBigInt64LE(start + offset)) : (page, start) => Number(page.readBigUInt64LE(start + offset));
    default:
      throw new Error(`rtlat: the ${format.system}:${format.name} field "${name}" has an unexpected size (${size})`);
  }
}

function cString(page: Buffer, from: number, to: number): string {
  const end = page.indexOf(0, from);
  return page.toString('latin1', from, end < 0 || end > to ? to : end);
}

export function stringField(format: EventFormat, name: string): FieldReader<string> {
  const { offset, size, location } = field(format, name);
  if (location === 'inline') return (page, start) => cString(page, start + offset, start + offset + size);
  return (page, start) => {
    const word = page.readUInt32LE(start + offset);
    // data_loc: offset from the record's start; rel_loc: from the end of this field.
    const from = start + (word & 0xffff) + (location === 'rel_loc' ? offset + size : 0);
    return cString(page, from, from + (word >>> 16));
  };
}

/**
 * The value -> name tables of the `__print_symbolic(...)` calls in an event's print fmt, in order
 * (softirq vectors: {3: "NET_RX", ...}; kvm_exit: one table for VMX, one for SVM).
 */
export function symbolicTables(text: string): Map<number, string>[] {
  const tables: Map<number, string>[] = [];
  const printFormat = /^print fmt:(.*)$/m.exec(text)?.[1] ?? '';
  for (const call of printFormat.split('__print_symbolic(').slice(1)) {
    const table = new Map<number, string>();
    // The pairs run until the call's closing parenthesis, the first one outside braces and quotes.
    const pairs = call.slice(0, call.search(/\}\s*\)/) + 1);
    for (const pair of pairs.matchAll(/\{\s*([^,{}]+?)\s*,\s*"([^"]*)"\s*\}/g)) {
      const value = evaluateConstant(pair[1]!);
      if (value !== null) table.set(value, pair[2]!);
    }
    tables.push(table);
  }
  return tables;
}

/** "3", "0x40 + 13", "-1": the constants print fmts use; null for a symbol (HRTIMER_MODE_ABS). */
function evaluateConstant(text: string): number | null {
  let sum = 0;
  for (const term of text.split('+')) {
    const trimmed = term.trim();
    if (!/^-?(0x[0-9a-f]+|\d+)$/i.test(trimmed)) return null;
    sum += trimmed.startsWith('-') ? -Number(trimmed.slice(1)) : Number(trimmed);
  }
  return sum;
}
