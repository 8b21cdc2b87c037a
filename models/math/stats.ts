/** Small statistics the recipes report: class predictions, accuracy, agreement, input mean and spread. */

/** The index of the largest value in each row of a [rows, cols] matrix (first on ties). */
export function argmaxRows(values: Float32Array, rows: number, cols: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (values[r * cols + c]! > values[r * cols + best]!) best = c;
    out[r] = best;
  }
  return out;
}

/** The fraction of positions where `a` and `b` agree: accuracy against labels, or top-1 agreement. */
export function fractionEqual(a: Int32Array, b: Int32Array): number {
  if (a.length !== b.length || a.length === 0) throw new RangeError(`cannot compare ${a.length} with ${b.length} values`);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/** Mean and (population) standard deviation of all values, summed in double precision. */
export function meanStd(values: Float32Array): { mean: number; std: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  const mean = sum / values.length;
  let squares = 0;
  for (let i = 0; i < values.length; i++) {
    const d = values[i]! - mean;
    squares += d * d;
  }
  return { mean, std: Math.sqrt(squares / values.length) };
}

/** One-hot rows [labels.length, classes]. */
export function oneHot(labels: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) out[i * classes + labels[i]!] = 1;
  return out;
}

/** Rounds to `digits` decimals, for figures that go into manifests. */
export function roundTo(value: number, digits: number): number {
  let scale = 1;
  for (let i = 0; i < digits; i++) scale *= 10;
  return Math.round(value * scale) / scale;
}
