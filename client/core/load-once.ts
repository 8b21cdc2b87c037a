/**
 * The SDK's lazy chunks (the OIP codec, onnxruntime's Tensor class, the update framework, telemetry, the
 * stand-in version search) are each imported on first use, once. A failed import is forgotten rather than
 * kept: it is a dropped network or a redeploy, and the next use tries again.
 */

/**
 * `load`, run on the first call and shared by every later one; after a failure, the next call runs it again.
 * @example
 * const codec = loadOnce(() => import('../protocol/oip-codec.ts'));
 * const { encodeInferRequest } = await codec();
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    (loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw err;
    }));
}
