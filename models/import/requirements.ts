/**
 * What a device needs to run an imported variant, estimated from measurements rather than guessed.
 *
 * Peak activations are measured with onnxruntime-node: a copy of the model that also returns every
 * main-graph node's output runs on each of the import's inputs (the examples, or the synthetic input of
 * `sample-inputs.ts`), which gives each intermediate tensor's real size at those shapes. Walking the nodes
 * in file order (topological, by the ONNX rules), a tensor is live from the step that makes it to its last
 * reader; graph inputs (held by the caller) and graph outputs (returned) are live to the end. The peak is
 * the largest sum of live tensors at any step, over every input set.
 *
 *   peakActivationBytes = max over inputs, over steps s, of  Σ bytes(t) for t live at s
 *   minMemoryMiB        = ceil(RUNTIME_OVERHEAD_MIB + (2 × artifactBytes + peakActivationBytes) / MiB)
 *   minStorageMiB       = max(1, ceil(artifactBytes / MiB))
 *
 * Twice the artifact: the downloaded bytes and the session's copy of the weights coexist while the session
 * is created. The overhead covers the runtime itself (the WASM module and its heap's growth steps).
 *
 * Limits, all on the low side: tensors made inside subgraphs (If, Loop, Scan bodies) are not seen, only
 * what their nodes return; kernels' scratch buffers (a convolution's im2col, attention's workspace) and
 * the allocator's rounding are not counted; onnxruntime's optimizer may fuse nodes, so some measured
 * intermediates never exist, which errs high. When the measuring copy cannot load or run (an intermediate
 * that is not a tensor, say), the peak falls back to inputs plus outputs, and `intermediates` says so.
 */
import { bytesPerElement, elementCount, type NamedTensors, type Tensor } from '../../protocol/tensor.ts';
import { ModelProto } from '../onnx/onnx-proto.ts';
import { loadUnchecked } from './ort-check.ts';
import type { OnnxModel } from './read-onnx.ts';

const MIB = 1024 * 1024;

/** Memory the runtime needs beside the model and its tensors, in MiB. */
export const RUNTIME_OVERHEAD_MIB = 64;

export interface ActivationEstimate {
  peakBytes: number;
  /** True when intermediate tensors were measured; false when only inputs and outputs were. */
  intermediates: boolean;
  /** Why intermediates could not be measured. */
  fallbackReason?: string;
}

/** Bytes a tensor's data takes (strings: their UTF-8 lengths). */
export function tensorDataBytes(tensor: Tensor): number {
  const width = bytesPerElement(tensor.dtype);
  if (width !== undefined) return elementCount(tensor.dims) * width;
  return (tensor.data as string[]).reduce((sum, s) => sum + new TextEncoder().encode(s).length, 0);
}

/**
 * The peak of live tensor bytes over the steps of a graph.
 * @param sizes bytes of each value seen (graph inputs, intermediates, graph outputs); values without a
 *   size (made inside subgraphs, or not measured) count as 0.
 */
export function peakLiveBytes(model: Pick<OnnxModel, 'steps' | 'outputs'>, graphInputs: readonly string[], sizes: ReadonlyMap<string, number>): number {
  const born = new Map<string, number>();
  const lastUse = new Map<string, number>();
  for (const name of graphInputs) born.set(name, -1);
  model.steps.forEach((step, index) => {
    for (const name of step.inputs) lastUse.set(name, index);
    for (const name of step.outputs) if (!born.has(name)) born.set(name, index);
  });
  const end = model.steps.length;
  for (const name of [...graphInputs, ...model.outputs.map((o) => o.name)]) lastUse.set(name, end);
  // A value is live on steps [born, lastUse]; one never read is live only on the step that makes it.
  const delta = new Array<number>(end + 3).fill(0);
  for (const [name, from] of born) {
    const bytes = sizes.get(name) ?? 0;
    if (bytes === 0) continue;
    const to = Math.max(lastUse.get(name) ?? from, from);
    delta[from + 1]! += bytes;
    delta[to + 2]! -= bytes;
  }
  let live = 0;
  let peak = 0;
  for (const d of delta) {
    live += d;
    peak = Math.max(peak, live);
  }
  return peak;
}

/**
 * The model with every main-graph node output also declared a graph output (types left to onnxruntime).
 * Protobuf merges a message field that appears twice, appending to its repeated fields, so the extra
 * outputs are a second, tiny `graph` field after the file's bytes: nothing of a large model is decoded or
 * copied but once.
 */
export function exposeIntermediates(bytes: Uint8Array, model: Pick<OnnxModel, 'steps' | 'outputs'>): { bytes: Uint8Array; names: string[] } {
  const outputs = new Set(model.outputs.map((o) => o.name));
  const names = [...new Set(model.steps.flatMap((s) => s.outputs))].filter((name) => !outputs.has(name));
  const extra = ModelProto.encode({ graph: { output: names.map((name) => ({ name })) } }).finish();
  const exposed = new Uint8Array(bytes.length + extra.length);
  exposed.set(bytes);
  exposed.set(extra, bytes.length);
  return { bytes: exposed, names };
}

/**
 * Measures peak activations of `bytes` on each input set (see the module comment).
 * @param fallback bytes of each input set's inputs plus outputs, from the checked run, used when the
 *   measuring copy fails.
 */
export async function measureActivations(
  bytes: Uint8Array,
  model: OnnxModel,
  inputSets: readonly NamedTensors[],
  fallback: readonly number[],
): Promise<ActivationEstimate> {
  const fallbackPeak = Math.max(0, ...fallback);
  const { bytes: exposed } = exposeIntermediates(bytes, model);
  let session;
  try {
    session = await loadUnchecked(exposed);
  } catch (err) {
    return { peakBytes: fallbackPeak, intermediates: false, fallbackReason: (err as Error).message };
  }
  try {
    let peak = 0;
    for (const [index, inputs] of inputSets.entries()) {
      const outputs = await session.run(inputs, `input set ${index + 1}`);
      const sizes = new Map<string, number>();
      for (const [name, tensor] of [...Object.entries(inputs), ...Object.entries(outputs)]) sizes.set(name, tensorDataBytes(tensor));
      peak = Math.max(peak, peakLiveBytes(model, Object.keys(inputs), sizes));
    }
    return { peakBytes: Math.max(peak, fallbackPeak), intermediates: true };
  } catch (err) {
    return { peakBytes: fallbackPeak, intermediates: false, fallbackReason: (err as Error).message };
  } finally {
    await session.release();
  }
}

/** Memory to run a variant whose file is `artifactBytes` long, in MiB (see the module comment). */
export function minMemoryMiB(artifactBytes: number, peakActivationBytes: number): number {
  return Math.ceil(RUNTIME_OVERHEAD_MIB + (2 * artifactBytes + peakActivationBytes) / MIB);
}

/** Storage a cached artifact needs, in whole MiB. */
export function minStorageMiB(artifactBytes: number): number {
  return Math.max(1, Math.ceil(artifactBytes / MIB));
}

/** Bytes of the inputs plus the outputs of one run: the floor of any activation estimate. */
export function ioBytes(inputs: NamedTensors, outputs: Record<string, Tensor>): number {
  let sum = 0;
  for (const tensor of [...Object.values(inputs), ...Object.values(outputs)]) sum += tensorDataBytes(tensor);
  return sum;
}
