/**
 * The int8 and fp16 device variants of `tandem import`, made by models/quantize/ on any graph, each
 * measured against the original on the import's inputs in onnxruntime-node and in onnxruntime-web's WASM
 * backend: agreement is measured, never assumed. The figures (`<variant>.maxAbsError`,
 * `<variant>.normalizedMaxError`, `<variant>.top1Agreement`, and the same under `<variant>.wasm.`) land in
 * the manifest's `evaluation`, and `tolerance.ts` decides whether the variant is kept.
 */
import type { NamedTensors } from '../../protocol/tensor.ts';
import { measureAgreement, measureAgreementWasm, type Agreement } from '../quantize/agreement.ts';
import { convertToFp16 } from '../quantize/convert-fp16.ts';
import { quantizeDynamicInt8 } from '../quantize/dynamic-int8.ts';
import { fp32DeviceMaker, type DeviceMakers, type DeviceVariantMaker } from './device-variants.ts';

/** The largest absolute error of any float output, as a fraction of that output's largest reference magnitude. */
export function normalizedMaxError(agreement: Agreement): number {
  let worst = 0;
  for (const output of Object.values(agreement.outputs)) {
    if (output.elements === 0) continue;
    const scale = output.referenceScale > 0 ? output.referenceScale : 1;
    worst = Math.max(worst, output.maxAbsError / scale);
  }
  return worst;
}

function figures(agreement: Agreement, prefix = ''): Record<string, number | undefined> {
  return {
    [`${prefix}maxAbsError`]: agreement.maxAbsError,
    [`${prefix}maxRelError`]: agreement.maxRelError,
    [`${prefix}meanAbsError`]: agreement.meanAbsError,
    [`${prefix}normalizedMaxError`]: normalizedMaxError(agreement),
    [`${prefix}top1Agreement`]: agreement.top1Agreement,
  };
}

/**
 * Measures in both runtimes. onnxruntime-web may lack a kernel the variant needs (fp16 on WASM, say): that
 * figure is then missing, and `wasm.measured` is 0 so the report can say so.
 */
async function evaluate(reference: Uint8Array, variant: Uint8Array, inputs: readonly NamedTensors[]): Promise<Record<string, number | undefined>> {
  const options = { top1: true } as const;
  const node = await measureAgreement(reference, variant, inputs, options);
  const wasm = await measureAgreementWasm(reference, variant, inputs, options).catch(() => undefined);
  return { ...figures(node), ...(wasm ? figures(wasm, 'wasm.') : {}), 'wasm.measured': wasm ? 1 : 0 };
}

/** Dynamic int8 as onnxruntime's `quantize_dynamic` writes it: for WASM (and WebGPU, which runs it too). */
export const int8DeviceMaker: DeviceVariantMaker = {
  name: 'int8',
  make: async (bytes) => quantizeDynamicInt8(bytes),
  quantization: { method: 'dynamic-int8', weightDtype: 'int8', activationDtype: 'uint8', granularity: 'per-channel' },
  backends: ['wasm', 'webgpu'],
  evaluate,
};

/** Weights and compute in float16, inputs and outputs in their own types: for WebGPU adapters with `shader-f16`. */
export const fp16DeviceMaker: DeviceVariantMaker = {
  name: 'fp16',
  make: async (bytes) => convertToFp16(bytes),
  quantization: { method: 'fp16' },
  backends: ['webgpu'],
  features: ['shader-f16'],
  evaluate,
};

/** Every device variant `tandem import --device` can make. */
export const ALL_MAKERS: DeviceMakers = { int8: int8DeviceMaker, fp16: fp16DeviceMaker, fp32: fp32DeviceMaker };
