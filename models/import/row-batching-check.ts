/**
 * Whether an imported model's requests may share a run, measured: the manifest's `batching`.
 *
 * Both batchers (the origin's, the Web Worker's) concatenate concurrent requests along the leading
 * dimension and split the outputs back by rows. A signature cannot say whether a row's answer depends on
 * the other rows (a Softmax over axis 0 keeps every shape; protocol/row-batching.ts), so the import runs
 * two inputs alone and then merged in onnxruntime-node, and compares each row's answers: `rows` when they
 * agree within `ROW_TOLERANCE` of each output's scale, `none` when they do not (or the merged run fails).
 *
 * The two inputs: the first two examples that can be concatenated, else two seeded synthetic inputs
 * (dynamic dimensions 1, `sample-inputs.ts`). Synthetic integer inputs are zeros, so the two are equal
 * there; a model that only mixes rows of integer inputs is caught with examples only. Nothing is measured
 * (and the manifest records nothing, leaving the signature rule to decide) when the signature already
 * rules merging out, or when the model cannot run the inputs alone.
 */
import { concatRows, splitRows } from '../../protocol/batch-rows.ts';
import type { RowBatching, TensorSpec } from '../../protocol/manifest.ts';
import { rowBatchingRefusal } from '../../protocol/row-batching.ts';
import { tensorsByName, type NamedTensors } from '../../protocol/tensor.ts';
import { compareOutputs } from '../quantize/agreement.ts';
import { loadUnchecked, type CheckedModel } from './ort-check.ts';
import { normalizedMaxError } from './quantized-makers.ts';
import { syntheticInputs } from './sample-inputs.ts';

/**
 * The largest difference a row may show between its lone and its merged run, as a fraction of the
 * output's largest magnitude: kernels may block a batch differently, so sums round differently; a row
 * that reads other rows is off by far more.
 */
export const ROW_TOLERANCE = 1e-4;

export interface RowBatchingCheck {
  /** What the manifest records; undefined when nothing was measured, or the signature already says it. */
  batching: RowBatching | undefined;
  /** Why, in one line for the import's summary. */
  reason: string;
}

/**
 * @example
 * const { batching, reason } = await checkRowBatching(bytes, inputs, outputs, examples); // batching: 'rows'
 */
export async function checkRowBatching(
  bytes: Uint8Array,
  inputs: readonly TensorSpec[],
  outputs: readonly TensorSpec[],
  examples: readonly NamedTensors[],
): Promise<RowBatchingCheck> {
  // Measured rows would override the names, never what a split needs (protocol/row-batching.ts).
  const refusal = rowBatchingRefusal({ inputs, outputs, quantization: 'none', batching: 'rows' });
  if (refusal !== undefined) return { batching: undefined, reason: `every request runs alone: ${refusal}` };
  let pair: [NamedTensors, NamedTensors];
  try {
    pair = mergeablePair(examples) ?? [syntheticInputs(inputs, 'tandem-row-check/a'), syntheticInputs(inputs, 'tandem-row-check/b')];
  } catch (err) {
    return notMeasured(err); // A synthetic input past its size limits: the import's examples could not be merged.
  }
  const session = await loadUnchecked(bytes);
  try {
    return recordable(await compareRuns(session, ...pair), inputs, outputs);
  } finally {
    await session.release();
  }
}

/**
 * The verdict as the manifest records it: only where the signature alone would decide otherwise (`none`
 * where the names would merge, `rows` where they would not). A manifest that needs no `batching` stays
 * readable by SDKs and origins from before the field, whose manifest schema refuses fields it does not know.
 */
function recordable(check: RowBatchingCheck, inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): RowBatchingCheck {
  if (check.batching === undefined) return check;
  const namesMerge = rowBatchingRefusal({ inputs, outputs, quantization: 'none' }) === undefined;
  return namesMerge === (check.batching === 'rows') ? { batching: undefined, reason: check.reason } : check;
}

const notMeasured = (err: unknown): RowBatchingCheck => ({ batching: undefined, reason: `not measured (${(err as Error).message}); decided by the signature` });

async function compareRuns(session: CheckedModel, a: NamedTensors, b: NamedTensors): Promise<RowBatchingCheck> {
  let alone: NamedTensors[];
  try {
    alone = [await session.run(a, 'the first input'), await session.run(b, 'the second input')];
  } catch (err) {
    return notMeasured(err);
  }
  const rows = [leadingRows(a), leadingRows(b)];
  const merged = tensorsByName();
  for (const name of Object.keys(a)) merged[name] = concatRows([a[name]!, b[name]!]);
  const none = (why: string): RowBatchingCheck => ({ batching: 'none', reason: `none: every request runs alone, since ${why}` });
  let together: NamedTensors;
  try {
    together = await session.run(merged, 'two inputs merged');
  } catch (err) {
    return none(`the model fails on two inputs merged (${(err as Error).message})`);
  }
  const pieces: NamedTensors[] = [tensorsByName(), tensorsByName()];
  for (const [name, tensor] of Object.entries(together)) {
    if (tensor.dims[0] !== rows[0]! + rows[1]!) return none(`output "${name}" has ${String(tensor.dims[0])} rows for ${rows[0]! + rows[1]!} merged`);
    const [first, second] = splitRows(tensor, rows);
    pieces[0]![name] = first!;
    pieces[1]![name] = second!;
  }
  let error: number;
  try {
    error = normalizedMaxError(compareOutputs(alone, pieces));
  } catch (err) {
    return none((err as Error).message);
  }
  if (!(error <= ROW_TOLERANCE)) {
    return none(`rows run merged answer differently from the same rows run alone (by ${error.toPrecision(2)} of an output's scale)`);
  }
  const agree = error === 0 ? 'exactly' : `within ${error.toPrecision(2)} of each output's scale`;
  return { batching: 'rows', reason: `rows: concurrent requests share a run (two inputs run alone and merged agree ${agree})` };
}

/** The first two examples whose inputs can be concatenated (same dtypes and trailing dimensions, rows ≥ 1). */
function mergeablePair(examples: readonly NamedTensors[]): [NamedTensors, NamedTensors] | undefined {
  const shape = (e: NamedTensors) =>
    leadingRows(e) < 1
      ? undefined
      : JSON.stringify(
          Object.keys(e)
            .sort()
            .map((name) => [name, e[name]!.dtype, e[name]!.dims.slice(1)]),
        );
  for (const [i, first] of examples.entries()) {
    const key = shape(first);
    const second = key === undefined ? undefined : examples.slice(i + 1).find((e) => shape(e) === key);
    if (second) return [first, second];
  }
  return undefined;
}

/** An input set's rows: its inputs share the leading dimension (checked against the signature). */
function leadingRows(inputs: NamedTensors): number {
  return Object.values(inputs)[0]?.dims[0] ?? 0;
}
