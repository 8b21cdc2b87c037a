/**
 * Concatenation and splitting along the leading (batch) dimension: how several requests become one
 * onnxruntime run and how its outputs go back to each caller. Pure typed-array copies, no ORT. Both
 * batchers use it: the origin's (origin/batcher.ts) and the Web Worker's (client/runtime/micro-batch.ts).
 */
import { TandemError } from './errors.ts';
import { allocateTensorData, elementCount, type Tensor, type TensorData } from './tensor.ts';

/** Concatenates tensors of equal dtype and trailing dims along dimension 0. */
export function concatRows(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  if (!first) throw new TandemError('internal', 'nothing to concatenate');
  if (parts.length === 1) return first;
  const trailing = first.dims.slice(1);
  let rows = 0;
  for (const part of parts) {
    if (part.dtype !== first.dtype || part.dims.length !== first.dims.length || part.dims.slice(1).some((d, i) => d !== trailing[i])) {
      throw new TandemError('internal', 'tensors in one batch must share dtype and trailing dims');
    }
    rows += part.dims[0]!;
  }
  const dims = [rows, ...trailing];
  const data = allocateTensorData(first.dtype, elementCount(dims));
  let offset = 0;
  for (const part of parts) {
    copyInto(data, part.data, offset);
    offset += part.data.length;
  }
  return { dtype: first.dtype, dims, data } as Tensor;
}

/**
 * Splits a tensor along dimension 0 into consecutive pieces of the given row counts. Numeric pieces are
 * views into `whole` (no copy: each answer is encoded straight from the batch's output).
 */
export function splitRows(whole: Tensor, rows: readonly number[]): Tensor[] {
  const total = rows.reduce((a, b) => a + b, 0);
  if (whole.dims[0] !== total) {
    throw new TandemError('inference_failed', `output has ${String(whole.dims[0])} rows, the batch had ${total}`);
  }
  if (rows.length === 1) return [whole];
  const perRow = elementCount(whole.dims.slice(1));
  let start = 0;
  return rows.map((count) => {
    const end = start + count * perRow;
    const data = (Array.isArray(whole.data) ? whole.data.slice(start, end) : whole.data.subarray(start, end)) as TensorData;
    start = end;
    return { dtype: whole.dtype, dims: [count, ...whole.dims.slice(1)], data } as Tensor;
  });
}

function copyInto(target: TensorData, source: TensorData, offset: number): void {
  if (Array.isArray(target)) {
    for (let i = 0; i < source.length; i++) target[offset + i] = (source as string[])[i]!;
  } else {
    (target as Float32Array).set(source as Float32Array, offset);
  }
}
