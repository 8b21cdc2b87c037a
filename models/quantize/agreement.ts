/**
 * How closely a device variant (int8, fp16) reproduces its reference: both run on the same inputs in the
 * same runtime, every output compared element by element, and for classifiers how often the top-1 class
 * (argmax over the last axis) is the same. The comparison itself is a pure function over output tensors
 * (`compareOutputs`); `measureAgreement` and `measureAgreementWasm` run the two models in onnxruntime-node
 * and in onnxruntime-web's WASM backend.
 *
 * Relative error is |variant − reference| / max(|reference|, floor), the floor being 1/1000 of the output's
 * largest reference magnitude, so the many near-zero elements of a ReLU network do not turn tiny absolute
 * differences into huge ratios. Equal non-finite values (NaN and NaN, +∞ and +∞) agree; any other
 * non-finite difference is an infinite error.
 */
import { TandemError } from '../../protocol/errors.ts';
import type { NamedTensors, Tensor } from '../../protocol/tensor.ts';
import { fromFloat16Bits } from './float16.ts';
import { openRunner, type RunnerRuntime } from './model-runner.ts';

/** Figures for one output. */
export interface OutputAgreement {
  dtype: string;
  /** Elements compared (over every input set). */
  elements: number;
  maxAbsError: number;
  maxRelError: number;
  meanAbsError: number;
  /** Fraction of elements exactly equal. */
  exactFraction: number;
  /** The largest finite |reference| element: the scale to read the absolute errors against. */
  referenceScale: number;
  /** Fraction of rows (all axes but the last) whose argmax agrees, when asked for. */
  top1Agreement?: number;
  /** Rows compared for top-1. */
  rows?: number;
}

export interface Agreement {
  /** Over the float outputs (all outputs when none is float). */
  maxAbsError: number;
  maxRelError: number;
  meanAbsError: number;
  /** The lowest top-1 agreement among the outputs it was asked for. */
  top1Agreement?: number;
  outputs: Record<string, OutputAgreement>;
}

export interface AgreementOptions {
  /** Top-1 agreement over the last axis: for every float output (true) or the named ones. */
  top1?: boolean | readonly string[];
  /** Outputs to compare (default: every output of the reference). */
  outputs?: readonly string[];
  /** Relative-error floor as a fraction of the output's largest magnitude (default 1e-3). */
  relativeFloor?: number;
}

const FLOAT_DTYPES = new Set(['float16', 'float32', 'float64']);

/**
 * Runs both models in onnxruntime-node on every input set and compares their outputs.
 * @example
 * const { maxAbsError, top1Agreement } = await measureAgreement(fp32, int8, inputs, { top1: ['logits'] });
 * @throws TandemError `bad_request` when the models' outputs differ in names or shapes; `inference_failed` when
 *   a model does not load or run.
 */
export function measureAgreement(
  referenceBytes: Uint8Array,
  variantBytes: Uint8Array,
  inputs: NamedTensors | readonly NamedTensors[],
  options: AgreementOptions = {},
): Promise<Agreement> {
  return measureIn('node', referenceBytes, variantBytes, inputs, options);
}

/** `measureAgreement` in onnxruntime-web's WASM backend (under Node). */
export function measureAgreementWasm(
  referenceBytes: Uint8Array,
  variantBytes: Uint8Array,
  inputs: NamedTensors | readonly NamedTensors[],
  options: AgreementOptions = {},
): Promise<Agreement> {
  return measureIn('wasm', referenceBytes, variantBytes, inputs, options);
}

async function measureIn(
  runtime: RunnerRuntime,
  referenceBytes: Uint8Array,
  variantBytes: Uint8Array,
  inputs: NamedTensors | readonly NamedTensors[],
  options: AgreementOptions,
): Promise<Agreement> {
  const sets = Array.isArray(inputs) ? (inputs as readonly NamedTensors[]) : [inputs as NamedTensors];
  const reference = await openRunner(runtime, referenceBytes);
  try {
    const variant = await openRunner(runtime, variantBytes);
    try {
      const references: NamedTensors[] = [];
      const variants: NamedTensors[] = [];
      for (const set of sets) {
        references.push(await reference.run(set));
        variants.push(await variant.run(set));
      }
      return compareOutputs(references, variants, options);
    } finally {
      await variant.release();
    }
  } finally {
    await reference.release();
  }
}

/**
 * Compares outputs of the two models on the same input sets (pure).
 * @throws TandemError `bad_request` when an output is missing or differs in shape.
 */
export function compareOutputs(references: readonly NamedTensors[], variants: readonly NamedTensors[], options: AgreementOptions = {}): Agreement {
  const names = options.outputs ?? Object.keys(references[0] ?? {});
  const top1 = new Set(options.top1 === true ? names.filter((n) => FLOAT_DTYPES.has(references[0]?.[n]?.dtype ?? '')) : options.top1 || []);
  const outputs: Record<string, OutputAgreement> = {};
  for (const name of names) {
    const pairs = references.map((reference, i) => {
      const r = reference[name];
      const v = variants[i]?.[name];
      if (!r) throw new TandemError('bad_request', `the reference model has no output "${name}"`);
      if (!v) throw new TandemError('bad_request', `the variant has no output "${name}"`);
      if (r.dims.join() !== v.dims.join())
        throw new TandemError('bad_request', `output "${name}" has shape [${v.dims.join(', ')}] in the variant, [${r.dims.join(', ')}] in the reference`);
      return [r, v] as const;
    });
    outputs[name] = compareOutput(pairs, top1.has(name), options.relativeFloor ?? 1e-3);
  }
  const floats = Object.values(outputs).filter((o) => FLOAT_DTYPES.has(o.dtype));
  const counted = floats.length > 0 ? floats : Object.values(outputs);
  const elements = counted.reduce((n, o) => n + o.elements, 0);
  const top1Values = Object.values(outputs).flatMap((o) => (o.top1Agreement === undefined ? [] : [o.top1Agreement]));
  return {
    maxAbsError: Math.max(0, ...counted.map((o) => o.maxAbsError)),
    maxRelError: Math.max(0, ...counted.map((o) => o.maxRelError)),
    meanAbsError: elements === 0 ? 0 : counted.reduce((s, o) => s + o.meanAbsError * o.elements, 0) / elements,
    ...(top1Values.length > 0 ? { top1Agreement: Math.min(...top1Values) } : {}),
    outputs,
  };
}

function compareOutput(pairs: readonly (readonly [Tensor, Tensor])[], top1: boolean, relativeFloor: number): OutputAgreement {
  let elements = 0;
  let maxAbs = 0;
  let maxRel = 0;
  let sumAbs = 0;
  let exact = 0;
  let rows = 0;
  let agreeingRows = 0;
  let scale = 0;
  for (const [reference, variant] of pairs) {
    const strings = new Map<string, number>();
    const r = numbers(reference, strings);
    const v = numbers(variant, strings);
    let largest = 0;
    for (const x of r) if (Number.isFinite(x)) largest = Math.max(largest, Math.abs(x));
    scale = Math.max(scale, largest);
    const floor = Math.max(largest * relativeFloor, Number.MIN_VALUE);
    for (let i = 0; i < r.length; i++) {
      const a = r[i]!;
      const b = v[i]!;
      const same = a === b || (Number.isNaN(a) && Number.isNaN(b));
      const abs = same ? 0 : Number.isFinite(a) && Number.isFinite(b) ? Math.abs(a - b) : Infinity;
      if (same) exact++;
      maxAbs = Math.max(maxAbs, abs);
      maxRel = Math.max(maxRel, abs === 0 ? 0 : abs / Math.max(Math.abs(a), floor));
      sumAbs += abs;
    }
    elements += r.length;
    const last = reference.dims.at(-1) ?? 1;
    if (top1 && last > 0) {
      for (let row = 0; row * last < r.length; row++) {
        rows++;
        if (argmax(r, row * last, last) === argmax(v, row * last, last)) agreeingRows++;
      }
    }
  }
  return {
    dtype: pairs[0]?.[0].dtype ?? 'float32',
    elements,
    maxAbsError: maxAbs,
    maxRelError: maxRel,
    meanAbsError: elements === 0 ? 0 : sumAbs / elements,
    exactFraction: elements === 0 ? 1 : exact / elements,
    referenceScale: scale,
    ...(top1 ? { top1Agreement: rows === 0 ? 1 : agreeingRows / rows, rows } : {}),
  };
}

/**
 * A tensor's elements as numbers: float16 decoded, 64-bit integers converted, bools 0/1, strings as their
 * index in `strings` (shared by the two tensors compared, so equal strings get equal numbers).
 */
function numbers(t: Tensor, strings: Map<string, number>): Float64Array {
  const data = t.data as ArrayLike<number | bigint | string>;
  const out = new Float64Array(data.length);
  if (t.dtype === 'float16') {
    const bits = t.data as Uint16Array;
    for (let i = 0; i < bits.length; i++) out[i] = fromFloat16Bits(bits[i]!);
    return out;
  }
  if (t.dtype === 'string') {
    for (let i = 0; i < data.length; i++) {
      const s = data[i] as string;
      if (!strings.has(s)) strings.set(s, strings.size);
      out[i] = strings.get(s)!;
    }
    return out;
  }
  for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  return out;
}

function argmax(values: Float64Array, start: number, length: number): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[start + i]! > values[start + best]!) best = i;
  return best;
}
