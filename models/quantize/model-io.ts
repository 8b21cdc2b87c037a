/**
 * A foreign model in, a rewritten model out: .onnx bytes to the plain objects the rewrites edit, with bad
 * bytes reported as a `TandemError` rather than protobufjs's exception, and the opset lookups the rewrites
 * need to know which operators they may use.
 */
import { TandemError } from '../../protocol/errors.ts';
import { parseModel, serializeModel, type OnnxModel } from '../onnx/onnx-proto.ts';

/**
 * Parses .onnx bytes.
 * @throws TandemError `bad_request` when the bytes are not an ONNX model with a graph.
 */
export function readModel(bytes: Uint8Array): OnnxModel {
  let model: OnnxModel;
  try {
    model = parseModel(bytes);
  } catch (cause) {
    throw new TandemError('bad_request', `not an ONNX model: ${(cause as Error).message}`, { cause });
  }
  if (!model.graph || ((model.graph.node ?? []).length === 0 && (model.graph.output ?? []).length === 0)) {
    throw new TandemError('bad_request', 'not an ONNX model: it has no graph');
  }
  return model;
}

/** Serialises a rewritten model. */
export function writeModel(model: OnnxModel): Uint8Array {
  return serializeModel(model);
}

/** The version of `domain`'s operator set the model imports ("" and "ai.onnx" are the default domain). */
export function opsetVersion(model: OnnxModel, domain = ''): number | undefined {
  const wanted = domain === 'ai.onnx' ? '' : domain;
  const entry = (model.opset_import ?? []).find((o) => ((o.domain ?? '') === 'ai.onnx' ? '' : (o.domain ?? '')) === wanted);
  return entry?.version === undefined ? undefined : Number(entry.version);
}

/** Imports `domain` at `version` unless the model already imports that domain. */
export function importOpset(model: OnnxModel, domain: string, version: number): void {
  if (opsetVersion(model, domain) !== undefined) return;
  model.opset_import = [...(model.opset_import ?? []), { domain, version }];
}
