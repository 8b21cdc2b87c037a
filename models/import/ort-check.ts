/**
 * Proof that the origin can serve an imported model: onnxruntime-node loads it the way the origin does
 * (through the origin's own `ort-session.ts`, same options, in a worker thread), agrees with the signature
 * the manifest will declare (the origin's `checkSignature`), and runs it on the import's inputs.
 *
 * A load failure becomes `onnx_custom_domain` when the graph uses operator domains onnxruntime has no
 * kernels for (named with their operators), else `onnx_load_failed` with onnxruntime's own message.
 */
import { TandemError } from '../../protocol/errors.ts';
import type { TensorSpec } from '../../protocol/manifest.ts';
import type { NamedTensors, Tensor } from '../../protocol/tensor.ts';
import { checkSignature, openSession, type ModelSession } from '../../origin/ort-session.ts';
import type { OnnxModel } from './read-onnx.ts';
import { unknownDomains } from './refusals.ts';

/** A model onnxruntime-node has loaded; release it when done. */
export interface CheckedModel {
  /** Runs one input set; `what` names it in a failure ("example.json", "the synthetic input"). */
  run(inputs: NamedTensors, what: string, outputs?: readonly string[]): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

/**
 * Opens `bytes` in onnxruntime-node and checks the declared signature against the session's.
 * @throws TandemError `onnx_custom_domain` or `onnx_load_failed`.
 */
export async function loadChecked(bytes: Uint8Array, model: OnnxModel, inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): Promise<CheckedModel> {
  let session: ModelSession;
  try {
    session = await openSession(bytes, { intraOpThreads: 1 });
  } catch (err) {
    throw loadFailure(err, model);
  }
  try {
    checkSignature(session, inputs, outputs);
  } catch (err) {
    await session.release();
    throw new TandemError(
      'onnx_load_failed',
      `onnxruntime reads the model's inputs and outputs differently from its graph (${(err as Error).message}); re-export the model with onnx's shape inference applied (onnx.shape_inference.infer_shapes) and try again`,
      { cause: err },
    );
  }
  return wrap(session);
}

/** Opens bytes without the signature check (the instrumented copy `requirements.ts` measures). */
export async function loadUnchecked(bytes: Uint8Array): Promise<CheckedModel> {
  try {
    return wrap(await openSession(bytes, { intraOpThreads: 1 }));
  } catch (err) {
    throw new TandemError('onnx_load_failed', (err as Error).message, { cause: err });
  }
}

function wrap(session: ModelSession): CheckedModel {
  return {
    async run(inputs, what, outputs) {
      try {
        return await session.run(inputs, outputs);
      } catch (err) {
        const reason = (err as Error).message.replace(/^onnxruntime run failed: /, '');
        throw new TandemError(
          'onnx_load_failed',
          `onnxruntime loads the model but cannot run it on ${what}: ${reason}; check the input's sizes (dynamic dimensions of synthetic inputs are 1: pass --example with a real input)`,
          { cause: err },
        );
      }
    },
    release: () => session.release(),
  };
}

function loadFailure(err: unknown, model: OnnxModel): TandemError {
  const reason = (err as Error).message.replace(/^onnxruntime could not load the model: /, '');
  const custom = Object.entries(unknownDomains(model));
  if (custom.length > 0) {
    const named = custom.map(([domain, ops]) => `${domain} (${ops.join(', ')})`).join('; ');
    return new TandemError(
      'onnx_custom_domain',
      `the model uses operators of domains onnxruntime has no kernels for: ${named}; re-export it with standard ONNX operators (e.g. torch.onnx.export without custom symbolic functions), since Tandem's runtimes load no custom-op libraries. onnxruntime said: ${reason}`,
      { cause: err },
    );
  }
  return new TandemError('onnx_load_failed', `onnxruntime-node cannot load the model: ${reason}`, { cause: err });
}
