/**
 * The manifest's input and output signatures of an imported model, from what its graph declares.
 *
 * Dimensions keep the exporter's names where the manifest can hold them (`p2o.DynamicDimension.0`,
 * `batch_size`, `height + 2`): a name loses tabs and line breaks (each becomes a space) and surrounding
 * whitespace, and is cut to the manifest's 128 characters. A dimension with neither a size nor a name is
 * named after its tensor and axis, `<tensor>_dim<axis>`, so the same file always gets the same names and
 * two unnamed dimensions never look bound to each other (one name means one size across inputs).
 */
import type { TensorSpec } from '../../protocol/manifest.ts';
import type { OnnxDim, OnnxValue } from './read-onnx.ts';

const MAX_DIM_NAME = 128;

/** A dimension name the manifest accepts, or undefined when nothing printable is left. */
export function sanitizeDimName(name: string): string | undefined {
  const cleaned = name
    .replace(/[\t\n\r]/g, ' ')
    .trim()
    .slice(0, MAX_DIM_NAME)
    .trim();
  return cleaned === '' ? undefined : cleaned;
}

/** The name given to an unnamed dimension: `<tensor>_dim<axis>`, sanitised like any other. */
export function unnamedDimName(tensor: string, axis: number): string {
  const suffix = `_dim${axis}`;
  const base =
    sanitizeDimName(tensor)
      ?.slice(0, MAX_DIM_NAME - suffix.length)
      .trimEnd() ?? 'tensor';
  return `${base}${suffix}`;
}

/** A manifest dimension for axis `axis` of `tensor`. */
export function manifestDim(dim: OnnxDim, tensor: string, axis: number): number | string {
  if ('value' in dim) return dim.value;
  if ('param' in dim) return sanitizeDimName(dim.param) ?? unnamedDimName(tensor, axis);
  return unnamedDimName(tensor, axis);
}

/**
 * The manifest signature of a graph input or output. The caller has refused non-tensor values, dtypes
 * Tandem cannot hold and unknown ranks (`refusals.ts`), so each value here is a typed, ranked tensor.
 */
export function tensorSpec(value: OnnxValue): TensorSpec {
  if (value.type.kind !== 'tensor' || value.type.dtype === undefined || value.type.shape === undefined) {
    throw new Error(`"${value.name}" is not a ranked tensor of a supported dtype (refusals.ts lets none through)`);
  }
  return { name: value.name, dtype: value.type.dtype, shape: value.type.shape.map((d, axis) => manifestDim(d, value.name, axis)) };
}
