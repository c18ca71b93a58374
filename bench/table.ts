/** One printed table: a title, column headings and rows of already formatted cells. */
export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Lines printed under the table (what the figures mean). */
  readonly notes?: readonly string[];
}

/**
 * Renders a table as a Markdown pipe table: readable in a terminal and pasteable into a README as it is.
 * A column whose every cell starts with a digit is a column of figures and is right-aligned.
 *
 * @param table What to print.
 * @returns The lines, without a trailing newline.
 */
export function renderTable(table: Table): string {
  const widths = table.columns.map((heading, at) =>
    Math.max(heading.length, ...table.rows.map((row) => (row[at] ?? '').length)),
  );
  const figures = table.columns.map((_, at) => table.rows.length > 0 && table.rows.every((row) => /^[-+]?\d/.test(row[at] ?? '')));
  const line = (cells: readonly string[], alignFigures: boolean): string =>
    `| ${widths
      .map((width, at) => {
        const cell = cells[at] ?? '';
        return alignFigures && figures[at] ? cell.padStart(width) : cell.padEnd(width);
      })
      .join(' | ')} |`;
  const rule = `|${widths.map((width, at) => (figures[at] ? `${'-'.repeat(width + 1)}:` : '-'.repeat(width + 2))).join('|')}|`;
  return [
    `### ${table.title}`,
    '',
    line(table.columns, false),
    rule,
    ...table.rows.map((row) => line(row, true)),
    ...(table.notes && table.notes.length > 0 ? ['', ...table.notes] : []),
  ].join('\n');
}

/** Prints a table followed by a blank line. */
export function printTable(table: Table): void {
  process.stdout.write(`${renderTable(table)}\n\n`);
}

/** A whole number with thousands separators (`1,000`). */
export const count = (value: number): string => Math.round(value).toLocaleString('en-US');

/** A figure with a fixed number of decimals and thousands separators. */
export const fixed = (value: number, decimals: number): string =>
  value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });

/** A ratio such as `1,000 ×`. */
export const times = (value: number): string => `${value >= 10 ? count(value) : fixed(value, 1)} ×`;

/** A duration in seconds, with minutes or hours added when that reads better (`3,030 s (50.5 min)`). */
export function seconds(value: number): string {
  const base = `${value >= 100 ? count(value) : fixed(value, 1)} s`;
  if (value >= 7_200) return `${base} (${fixed(value / 3_600, 1)} h)`;
  if (value >= 120) return `${base} (${fixed(value / 60, 1)} min)`;
  return base;
}
