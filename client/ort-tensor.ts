/**
 * Tensors as onnxruntime-web has them. `run` returns outputs that are instances of onnxruntime's own
 * `Tensor` class (`type`, `dims`, `data`, `dispose()`…), so code written for an `InferenceSession` moves
 * over unchanged, and a model's signature reads as an `InferenceSession`'s does (`inputNames`,
 * `inputMetadata`).
 *
 * The class is onnxruntime-common's (onnxruntime-web re-exports it), imported as a chunk of its own on
 * the first load: about 4 KiB gzip that the page's first paint does not wait for, keeping the main-thread
 * SDK within its budget (client/bundle-size.test.ts). onnxruntime-web's browser build inlines its own
 * copy of that class: an app that wants `result.outputs.y instanceof ort.Tensor` passes `ort.Tensor` as
 * the `Tensor` dependency of `createTandem`, and then no chunk is fetched.
 */
import type { InferenceSession, Tensor, TensorConstructor } from 'onnxruntime-common';
import type { TensorSpec } from '../protocol/manifest.ts';
import { tensorsByName, type NamedTensors } from '../protocol/tensor.ts';
import { loadOnce } from './core/load-once.ts';

export type { Tensor, TensorConstructor };

/** The description of one input or output, as `InferenceSession.inputMetadata` has it. */
export type ValueMetadata = InferenceSession.ValueMetadata;

/** onnxruntime-common's `Tensor` class, imported once (again after a failed import: a dropped network). */
export const loadTensorClass: () => Promise<TensorConstructor> = loadOnce(() => import('onnxruntime-common').then((ort) => ort.Tensor));

/** Constructs with the runtime's arguments; the class's overloads are per literal type. */
type AnyTensorConstructor = new (type: string, data: unknown, dims: readonly number[]) => Tensor;

/**
 * Plain tensors as instances of `TensorClass`, sharing their data (no copy).
 * @example
 * const outputs = toOrtTensors({ y: { dtype: 'float32', dims: [1, 10], data } }, await loadTensorClass());
 */
export function toOrtTensors(tensors: NamedTensors, TensorClass: TensorConstructor): Record<string, Tensor> {
  const out = tensorsByName<Tensor>();
  for (const [name, t] of Object.entries(tensors)) out[name] = new (TensorClass as unknown as AnyTensorConstructor)(t.dtype, t.data, t.dims);
  return out;
}

/**
 * A manifest's tensor specs as onnxruntime's value metadata (symbolic dimensions stay names).
 * @example
 * toValueMetadata(variant.inputs); // [{ name: 'x', isTensor: true, type: 'float32', shape: ['batch', 256] }]
 */
export function toValueMetadata(specs: readonly TensorSpec[]): ValueMetadata[] {
  return specs.map((s) => ({ name: s.name, isTensor: true, type: s.dtype, shape: [...s.shape] }));
}
