/**
 * Dynamic int8 quantization of any ONNX model, in TypeScript on the protobuf, as onnxruntime's
 * `quantize_dynamic(per_channel=True, reduce_range=True, weight_type=QInt8)` writes it: MatMul and Gemm
 * nodes with a constant 2-D weight get int8 weights per output channel and uint8 activations quantized at
 * run time (DynamicQuantizeLinear + MatMulInteger), the result rescaled to float; everything else in the
 * graph is left as it was. The output loads in onnxruntime-node and onnxruntime-web (WASM).
 *
 * Decisions (figures in models/quantize/README.md):
 * - Gemm is taken too (quantize_dynamic leaves it float): alpha is folded into the weight scales, transA
 *   becomes a Transpose, beta·C an Add after the rescale.
 * - Conv: ConvInteger ran 2–10× slower than the float Conv in onnxruntime 1.30 (CPU and WASM, single
 *   thread), so by default Conv weights are stored int8 and dequantized in the graph
 *   (DequantizeLinear → float Conv): the same 4× smaller weights at float speed. `conv: "integer"` writes
 *   ConvInteger as quantize_dynamic does; `conv: "none"` leaves convolutions alone.
 * - Weights under 1,024 elements stay float: they save under 3 KiB each, less than the nodes and scales a
 *   quantized node adds pay back, and small layers (heads, first layers) are where int8 costs most accuracy.
 * - A weight also read in float elsewhere (tied embeddings, a graph output) stays float.
 * - Nodes inside If/Loop/Scan bodies are quantized like any other (their weights may live in an outer graph);
 *   `subgraphs: false` leaves bodies alone.
 * - Opset: the standard operators need default-domain opset 11 (DynamicQuantizeLinear); for older models
 *   MatMul and Gemm use com.microsoft DynamicQuantizeMatMul and the com.microsoft domain is imported, and
 *   Conv stays float. Nothing else about the opset changes.
 */
import { TandemError } from '../../protocol/errors.ts';
import { listInitializersAsInputs, removeUnread } from './graph-cleanup.ts';
import { NameAllocator } from './graph-scope.ts';
import { CONTRIB_DOMAIN, emitDynamicInt8 } from './int8-emit.ts';
import { planDynamicInt8, type Int8Decision, type Int8OpType } from './int8-plan.ts';
import { importOpset, opsetVersion, readModel, writeModel } from './model-io.ts';

export type { Int8Decision, Int8Form, Int8OpType } from './int8-plan.ts';

/** The smallest weight quantized by default, in elements. */
export const DEFAULT_MIN_WEIGHT_ELEMENTS = 1024;

export interface DynamicInt8Options {
  /** Op types to quantize. Default all three: MatMul, Gemm, Conv. */
  opTypes?: readonly Int8OpType[];
  /**
   * How Conv nodes are quantized: "weight-only" (default: int8 weights, DequantizeLinear, float Conv; needs
   * opset 13), "integer" (ConvInteger, as quantize_dynamic), or "none".
   */
  conv?: 'weight-only' | 'integer' | 'none';
  /** Weights with fewer elements stay float. Default 1,024. */
  minWeightElements?: number;
  /** One scale per output channel (default) or per tensor. */
  perChannel?: boolean;
  /** int8 weights within ±64 rather than ±127 (default true; see models/math/int8.ts). */
  reduceRange?: boolean;
  /** Node names (or first output names, for unnamed nodes) to leave float. */
  excludeNodes?: readonly string[];
  /** Quantize nodes inside If/Loop/Scan bodies (default true). */
  subgraphs?: boolean;
  /** Called once per MatMul, Gemm and Conv node with what was done and why. */
  onDecision?: (decision: Int8Decision) => void;
}

/**
 * @example
 * const int8 = quantizeDynamicInt8(await readFile('model.onnx'), { onDecision: (d) => console.log(d) });
 * @throws TandemError `bad_request` when the bytes are not an ONNX model.
 */
export function quantizeDynamicInt8(modelBytes: Uint8Array, options: DynamicInt8Options = {}): Uint8Array {
  const minWeightElements = options.minWeightElements ?? DEFAULT_MIN_WEIGHT_ELEMENTS;
  if (!Number.isInteger(minWeightElements) || minWeightElements < 1)
    throw new TandemError('bad_request', `minWeightElements must be a positive integer, got ${minWeightElements}`);
  const model = readModel(modelBytes);
  // A model that imports no default-domain opset has no MatMul, Gemm or Conv to quantize.
  const opset = opsetVersion(model, '');
  if (opset === undefined) return modelBytes;

  const plan = planDynamicInt8(model, {
    opTypes: new Set(options.opTypes ?? ['MatMul', 'Gemm', 'Conv']),
    conv: options.conv ?? 'weight-only',
    minWeightElements,
    excludeNodes: new Set(options.excludeNodes ?? []),
    subgraphs: options.subgraphs ?? true,
    opset,
  });
  if (options.onDecision) for (const decision of plan.decisions) options.onDecision(decision);
  if (plan.candidates.length === 0) return modelBytes;

  const names = new NameAllocator(model);
  const result = emitDynamicInt8(model, plan.candidates, { perChannel: options.perChannel ?? true, reduceRange: options.reduceRange ?? true }, names);
  removeUnread(model, result.released);
  listInitializersAsInputs(model);
  if (result.usedContribDomain) importOpset(model, CONTRIB_DOMAIN, 1);
  return writeModel(model);
}
