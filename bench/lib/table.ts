/**
 * Plain-text tables for terminal output: columns padded to their widest cell, numbers right-aligned.
 * Pure, so a later aggregator can print the same tables from the results file.
 */

export type CellValue = string | number | null | undefined;

/**
 * @example
 * formatTable(['batch', 'rows/s'], [[1, 334.8], [64, 2869.2]]);
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly CellValue[])[]): string {
  const text = rows.map((row) => headers.map((_, i) => show(row[i])));
  const numeric = headers.map((_, i) => rows.every((row) => row[i] === null || row[i] === undefined || typeof row[i] === 'number'));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n');
}

/** Numbers with at most 3 significant decimals and thousands kept readable; missing figures as '-'. */
export function show(value: CellValue): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  if (Number.isInteger(value)) return String(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}
