/**
 * The Open Inference Protocol's metadata answers (REST specification, "Server Metadata" and "Model
 * Metadata"), built from a signed manifest. One owner for the origin's and the edge's answers, so a model
 * is described alike by the server that runs it and the edge that routes to it.
 */
import type { ManifestVariant, TensorSpec } from './manifest.ts';
import { DATATYPE_OF_DTYPE, type OipDatatype } from './oip-datatype.ts';

/**
 * The platform Tandem's models report: Triton's name for ONNX models run by ONNX Runtime. (The OIP text
 * lists `onnx_onnxv1`; the field is "information only", and Triton's clients know `onnxruntime_onnx`.)
 */
export const OIP_PLATFORM = 'onnxruntime_onnx';

/** `$metadata_tensor`: a tensor's name, datatype and shape, with -1 for a dynamic dimension. */
export interface OipTensorMetadata {
  name: string;
  datatype: OipDatatype;
  shape: number[];
}

/** `$metadata_model_response`. */
export interface OipModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: OipTensorMetadata[];
  outputs: OipTensorMetadata[];
}

/** `$metadata_server_response`. */
export interface OipServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

/** A manifest tensor spec as OIP metadata: named dynamic dimensions become -1. */
export function describeTensor(spec: TensorSpec): OipTensorMetadata {
  return { name: spec.name, datatype: DATATYPE_OF_DTYPE[spec.dtype], shape: spec.shape.map((d) => (typeof d === 'number' ? d : -1)) };
}

/**
 * A model's OIP metadata: its signature from the variant that serves OIP requests (the origin tier's),
 * and the versions a caller may name in `/versions/{v}`.
 * @example
 * modelMetadata('mlp-classifier', ['1.0.0'], variantForTier(manifest, 'origin')!);
 * // { name: 'mlp-classifier', versions: ['1.0.0'], platform: 'onnxruntime_onnx',
 * //   inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 256] }], outputs: [...] }
 */
export function modelMetadata(name: string, versions: readonly string[], variant: Pick<ManifestVariant, 'inputs' | 'outputs'>): OipModelMetadata {
  return { name, versions: [...versions], platform: OIP_PLATFORM, inputs: variant.inputs.map(describeTensor), outputs: variant.outputs.map(describeTensor) };
}
