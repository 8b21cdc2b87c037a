/**
 * Whether a variant's concurrent requests may share one run, concatenated along the leading dimension and
 * split back by rows: the one rule both batchers follow, the origin's (`validate-inputs.ts` batchPlan,
 * `origin/batcher.ts`) and the Web Worker's (`client/runtime/micro-batch.ts`).
 *
 * Merging is exact only when each row's answer depends on that row alone. A signature cannot prove it, so
 * the rule asks for what would at least make a split meaningful: every input and output has a leading
 * dimension, and it is the same named dynamic one (a fixed size says nothing about rows; an output that
 * leads with another name, or none, may be computed across the rows). The manifest's `batching`, measured
 * by `tandem import`, overrides the names: `none` never merges, `rows` merges when every leading
 * dimension is at least dynamic. Dynamic int8 quantization never merges: its activation ranges span the
 * whole batch, so a caller's answer would depend on the others' rows.
 */
import type { ManifestVariant, RowBatching, TensorSpec } from './manifest.ts';

/** What the rule reads of a variant. */
export interface BatchingSignature {
  inputs: readonly TensorSpec[];
  outputs: readonly TensorSpec[];
  /** The variant's `quantization.method`. */
  quantization: ManifestVariant['quantization']['method'];
  /** The variant's `batching`, when the manifest states it. */
  batching?: RowBatching | undefined;
}

/**
 * Why the variant's requests may not be merged, or undefined when they may.
 * @example
 * rowBatchingRefusal({ inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }], outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 2] }], quantization: 'none' }); // undefined
 */
export function rowBatchingRefusal(signature: BatchingSignature): string | undefined {
  if (signature.batching === 'none')
    return "the manifest says its rows are not independent (batching: none): merged requests would change each other's answers";
  if (signature.quantization === 'dynamic-int8') {
    return "dynamic int8 quantization takes activation ranges over the whole batch: a caller's answer would depend on the others' rows";
  }
  const first = signature.inputs[0];
  const leading = first?.shape[0];
  for (const [kind, specs] of [
    ['input', signature.inputs],
    ['output', signature.outputs],
  ] as const) {
    for (const spec of specs) {
      const dim = spec.shape[0];
      if (typeof dim !== 'string') return `${kind} ${spec.name}'s first dimension is ${dim === undefined ? 'absent (a scalar)' : `fixed (${dim})`}`;
      // Inputs must share it whatever `batching` says: it is what makes every input bring the same rows.
      const named = kind === 'input' || signature.batching !== 'rows';
      if (named && dim !== leading) return `${kind} ${spec.name} leads with "${dim}", input ${first!.name} with "${String(leading)}"`;
    }
  }
  return undefined;
}
