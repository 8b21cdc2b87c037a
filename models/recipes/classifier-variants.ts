/**
 * What the classifier recipes share: the `logits` + `probabilities` outputs, the fp32 (origin) and
 * dynamic-int8 (device) variant drafts with their requirements, and the held-out evaluation figures.
 */
import type { DeviceRequirements, TensorSpec } from '../../protocol/manifest.ts';
import { fractionEqual, roundTo } from '../math/stats.ts';
import { OPSET, type GraphBuilder } from '../onnx/graph-builder.ts';
import type { VariantDraft } from './recipe.ts';

const MIB = 1024 * 1024;

/** Adds `probabilities` = Softmax(`logits`) and declares both as graph outputs. */
export function addClassifierOutputs(g: GraphBuilder, classes: number): void {
  g.op('Softmax', ['logits'], {}, 'probabilities');
  g.output('logits', 'float32', ['batch', classes]);
  g.output('probabilities', 'float32', ['batch', classes]);
}

export function classifierOutputSpecs(classes: number): TensorSpec[] {
  return [
    { name: 'logits', dtype: 'float32', shape: ['batch', classes] },
    { name: 'probabilities', dtype: 'float32', shape: ['batch', classes] },
  ];
}

/** Storage a file needs, in whole MiB. */
export function storageMiB(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / MIB));
}

export interface VariantPairOptions {
  fp32: Uint8Array;
  int8: Uint8Array;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Memory each tier needs to run its variant, in MiB. */
  originMemoryMiB: number;
  deviceMemoryMiB: number;
}

/** The two variants of a device-capable model: fp32 for the origin, per-channel dynamic int8 for devices. */
export function variantPair(options: VariantPairOptions): VariantDraft[] {
  const { fp32, int8, inputs, outputs } = options;
  const origin: DeviceRequirements = { minMemoryMiB: options.originMemoryMiB, minStorageMiB: storageMiB(fp32.length), backends: ['cpu'], maxBatch: 64 };
  const device: DeviceRequirements = {
    minMemoryMiB: options.deviceMemoryMiB,
    minStorageMiB: storageMiB(int8.length),
    backends: ['webgpu', 'wasm'],
    maxBatch: 16,
  };
  return [
    { name: 'fp32', tier: 'origin', path: 'fp32.onnx', bytes: fp32, opset: OPSET, inputs, outputs, quantization: { method: 'none' }, requirements: origin },
    {
      name: 'int8',
      tier: 'device',
      path: 'int8.onnx',
      bytes: int8,
      opset: OPSET,
      inputs,
      outputs,
      quantization: { method: 'dynamic-int8', weightDtype: 'int8', activationDtype: 'uint8', granularity: 'per-channel' },
      requirements: device,
    },
  ];
}

/** Held-out figures for the manifest's `evaluation`: accuracy of each variant and their top-1 agreement. */
export function classificationEvaluation(labels: Int32Array, fp32: Int32Array, int8: Int32Array): Record<string, number> {
  return {
    accuracy_fp32: roundTo(fractionEqual(fp32, labels), 4),
    accuracy_int8: roundTo(fractionEqual(int8, labels), 4),
    top1_agreement: roundTo(fractionEqual(fp32, int8), 4),
    heldout_samples: labels.length,
  };
}

/** "95.1%" */
export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

/** "5.30 MB" */
export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}
