/**
 * The smallest model onnxruntime-web will open: one Relu on a float32[1] (94 bytes). The device runtime
 * opens it to start onnxruntime-web's WASM (fetch, compile, instantiate: seconds on a first visit) while
 * the real model's manifest is checked and its bytes download, since onnxruntime-web starts its WASM only
 * inside its first `InferenceSession.create` and has no public call to do it sooner.
 *
 * The bytes are `models/onnx/graph-builder.ts`' encoding of that graph (IR 8, opset 17): warm-model.test.ts
 * builds it again and compares, and opens it with the real onnxruntime-web.
 */
export const WARM_MODEL_BYTES: Uint8Array = new Uint8Array([
  8, 8, 18, 13, 116, 97, 110, 100, 101, 109, 45, 109, 111, 100, 101, 108, 115, 26, 1, 49, 50, 0, 58, 64, 10, 20, 10, 1, 120, 18, 1, 121, 26, 6, 82, 101, 108,
  117, 95, 48, 34, 4, 82, 101, 108, 117, 18, 4, 119, 97, 114, 109, 82, 0, 90, 15, 10, 1, 120, 18, 10, 10, 8, 8, 1, 18, 4, 10, 2, 8, 1, 98, 15, 10, 1, 121, 18,
  10, 10, 8, 8, 1, 18, 4, 10, 2, 8, 1, 66, 4, 10, 0, 16, 17,
]);
