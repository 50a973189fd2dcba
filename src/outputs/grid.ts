// One grid, three spellings: aligned text for terminals, markdown for notes and issues, CSV for sheets.
// The first column names the row (left-aligned); the others hold numbers (right-aligned).

export type TableFormat = 'text' | 'markdown' | 'csv';

export function renderTable(header: readonly string[], rows: readonly (readonly string[])[], format: TableFormat): string {
  switch (format) {
    case 'text':
      return textTable(header, rows);
    case 'markdown':
      return markdownTable(header, rows);
    case 'csv':
      return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\n') + '\n';
  }
}

function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
  const line = (row: readonly string[]) =>
    row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ').trimEnd();
  return all.map(line).join('\n') + '\n';
}

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (row: readonly string[]) => `| ${row.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;
  const rule = `|${header.map((_, column) => (column === 0 ? ' --- ' : ' ---: ')).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n') + '\n';
}

/** RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled. */
function csvField(cell: string): string {
  return /[",\n\r]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}
