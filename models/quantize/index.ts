/** Device variants of any ONNX model, made in TypeScript: dynamic int8, float16, and how closely they agree. */
export {
  quantizeDynamicInt8,
  DEFAULT_MIN_WEIGHT_ELEMENTS,
  type DynamicInt8Options,
  type Int8Decision,
  type Int8Form,
  type Int8OpType,
} from './dynamic-int8.ts';
export { convertToFp16, DEFAULT_FP16_BLOCK_LIST, type Float16Clamp, type Fp16Options, type Fp16Report } from './convert-fp16.ts';
export { compareOutputs, measureAgreement, measureAgreementWasm, type Agreement, type AgreementOptions, type OutputAgreement } from './agreement.ts';
export { drawInputs, DEFAULT_DYNAMIC_DIM, type DrawOptions } from './draw-inputs.ts';
export { openRunner, type ModelRunner, type RunnerRuntime } from './model-runner.ts';
