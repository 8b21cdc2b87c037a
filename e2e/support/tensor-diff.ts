/**
 * How far a tier's answer is from the reference (onnxruntime-node on the original file), in the terms the
 * bring-your-own-model tests assert: fp32 paths element by element within 1e-4 absolute + 1e-3 relative
 * (numpy's `allclose`), quantized variants within the error `tandem import` measured and signed into the
 * manifest (`normalizedMaxError`: the largest error as a fraction of the output's largest reference
 * magnitude), classifiers by their top-1 class per row.
 */
import { compareOutputs, type OutputAgreement } from '../../models/quantize/agreement.ts';
import type { Manifest } from '../../protocol/manifest.ts';
import type { NamedTensors } from '../../protocol/tensor.ts';

/** The fp32 tolerance of every tier against the reference: |a − r| ≤ ABSOLUTE + RELATIVE·|r|. */
export const FP32_TOLERANCE = { absolute: 1e-4, relative: 1e-3 } as const;

export interface OutputDiff extends OutputAgreement {
  /** The largest |a − r| / (absolute + relative·|r|): at most 1 when within the fp32 tolerance. */
  allcloseRatio: number;
}

/** Per-output differences of `actual` from `reference` over the same input sets (top-1 where asked). */
export function diffOutputs(
  references: readonly NamedTensors[],
  actuals: readonly NamedTensors[],
  options: { top1?: boolean } = {},
): Record<string, OutputDiff> {
  const agreement = compareOutputs(references, actuals, { top1: options.top1 ?? false });
  const diffs: Record<string, OutputDiff> = {};
  for (const [name, output] of Object.entries(agreement.outputs)) {
    let ratio = 0;
    for (const [i, reference] of references.entries()) {
      const r = reference[name]!.data as Float32Array;
      const a = actuals[i]![name]!.data as Float32Array;
      for (let k = 0; k < r.length; k++) {
        const d = Math.abs(a[k]! - r[k]!);
        ratio = Math.max(ratio, Number.isNaN(d) ? Infinity : d / (FP32_TOLERANCE.absolute + FP32_TOLERANCE.relative * Math.abs(r[k]!)));
      }
    }
    diffs[name] = { ...output, allcloseRatio: ratio };
  }
  return diffs;
}

/** The worst figures over all outputs, for reports. */
export function worst(diffs: Record<string, OutputDiff>): {
  maxAbsError: number;
  maxRelError: number;
  normalizedError: number;
  allcloseRatio: number;
  top1Agreement: number | undefined;
} {
  const list = Object.values(diffs);
  const top1 = list.flatMap((d) => (d.top1Agreement === undefined ? [] : [d.top1Agreement]));
  return {
    maxAbsError: Math.max(0, ...list.map((d) => d.maxAbsError)),
    maxRelError: Math.max(0, ...list.map((d) => d.maxRelError)),
    normalizedError: Math.max(0, ...list.map((d) => (d.referenceScale > 0 ? d.maxAbsError / d.referenceScale : d.maxAbsError))),
    allcloseRatio: Math.max(0, ...list.map((d) => d.allcloseRatio)),
    top1Agreement: top1.length > 0 ? Math.min(...top1) : undefined,
  };
}

/**
 * The tolerance `tandem import` reported for a device variant: its `normalizedMaxError` in whichever
 * runtime was worse (onnxruntime-node or -web's WASM), and its top-1 agreement in whichever was lower.
 * Undefined for a variant import did not measure (fp32-device is the original file).
 */
export function reportedTolerance(manifest: Manifest, variant: string): { normalizedMaxError: number; top1Agreement: number | undefined } | undefined {
  const e = manifest.evaluation ?? {};
  const error = [e[`${variant}.normalizedMaxError`], e[`${variant}.wasm.normalizedMaxError`]].filter((v): v is number => typeof v === 'number');
  if (error.length === 0) return undefined;
  const top1 = [e[`${variant}.top1Agreement`], e[`${variant}.wasm.top1Agreement`]].filter((v): v is number => typeof v === 'number');
  return { normalizedMaxError: Math.max(...error), top1Agreement: top1.length > 0 ? Math.min(...top1) : undefined };
}

/**
 * Whether a quantized variant's answer stays within what import reported: for every output, the largest
 * error is at most `normalizedMaxError` × that output's scale, plus the fp32 tolerance for the backend's
 * own rounding (WebGPU kernels are not WASM's); top-1 agrees on at least the reported share of rows.
 * Returns the reasons it does not, empty when it does.
 */
export function outsideReported(diffs: Record<string, OutputDiff>, reported: { normalizedMaxError: number; top1Agreement: number | undefined }): string[] {
  const misses: string[] = [];
  for (const [name, d] of Object.entries(diffs)) {
    const allowed = reported.normalizedMaxError * d.referenceScale + FP32_TOLERANCE.absolute + FP32_TOLERANCE.relative * d.referenceScale;
    if (!(d.maxAbsError <= allowed))
      misses.push(`${name}: max |error| ${d.maxAbsError} > ${allowed} (reported ${reported.normalizedMaxError} of scale ${d.referenceScale})`);
    if (reported.top1Agreement !== undefined && d.top1Agreement !== undefined && d.top1Agreement < reported.top1Agreement) {
      misses.push(`${name}: top-1 agreement ${d.top1Agreement} < reported ${reported.top1Agreement}`);
    }
  }
  return misses;
}
