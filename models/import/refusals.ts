/**
 * What `tandem import` refuses from the file alone, before onnxruntime sees it: each refusal a
 * TandemError with a stable code and a message naming the fix. The order is the order a user would fix
 * things in: a file that is not self-contained, then one that is not an inference graph, then inputs and
 * outputs the protocol cannot carry.
 *
 * Custom operator domains are only suspected here (`unknownDomains`): onnxruntime has the last word on what
 * it can run, so `ort-check.ts` refuses them when it fails to load the model.
 */
import { TandemError } from '../../protocol/errors.ts';
import { DEFAULT_DOMAIN, elemTypeName, type OnnxModel, type OnnxValue } from './read-onnx.ts';

/** Operator domains onnxruntime's CPU build has kernels for (contrib, ML, layout-internal, ATen). */
export const ORT_DOMAINS: ReadonlySet<string> = new Set([
  DEFAULT_DOMAIN,
  'ai.onnx.ml',
  'com.microsoft',
  'com.microsoft.nchwc',
  'com.microsoft.experimental',
  'com.ms.internal.nhwc',
  'org.pytorch.aten',
]);

/** Domains of training operators (Gradient, optimizers): a graph using them trains, it does not infer. */
export const TRAINING_DOMAINS: ReadonlySet<string> = new Set(['ai.onnx.preview.training', 'ai.onnx.training']);

/**
 * @throws TandemError `onnx_external_data`, `onnx_training_graph` or `onnx_unsupported_io`.
 */
export function checkImportable(model: OnnxModel): void {
  if (model.externalTensors.length > 0) {
    const names = listed(model.externalTensors);
    throw new TandemError(
      'onnx_external_data',
      `${model.externalTensors.length} tensor(s) keep their data in files beside the model (${names}); Tandem signs and ships one file per variant: ` +
        'save the model with its weights inside (onnx.save_model(onnx.load(path), out, save_as_external_data=False); models over 2 GiB cannot be, and are too big for Tandem)',
    );
  }
  const trainingOps = Object.entries(model.domains)
    .filter(([domain]) => TRAINING_DOMAINS.has(domain))
    .flatMap(([domain, ops]) => ops.map((op) => `${domain}:${op}`));
  if (model.trainingInfo > 0 || trainingOps.length > 0) {
    const what =
      model.trainingInfo > 0
        ? `${model.trainingInfo} training_info entr${model.trainingInfo === 1 ? 'y' : 'ies'}`
        : `training operators (${listed(trainingOps)})`;
    throw new TandemError(
      'onnx_training_graph',
      `the model is a training graph (${what}); export the inference graph instead (torch.onnx.export of the model in eval() mode, or onnx's inference-only export of your training artifact)`,
    );
  }
  if (model.inputs.length === 0) {
    throw new TandemError(
      'onnx_unsupported_io',
      'the graph takes no inputs (every graph input is an initializer); Tandem serves models that take at least one input tensor',
    );
  }
  for (const value of model.inputs) checkValue(value, 'input');
  for (const value of model.outputs) checkValue(value, 'output');
  checkUniqueNames(model.inputs, 'input');
  checkUniqueNames(model.outputs, 'output');
}

/** Node domains onnxruntime has no kernels for, with their operators (local functions excluded). */
export function unknownDomains(model: OnnxModel): Record<string, string[]> {
  const local = new Set(model.localFunctions);
  const unknown: Record<string, string[]> = {};
  for (const [domain, ops] of Object.entries(model.domains)) {
    if (ORT_DOMAINS.has(domain) || TRAINING_DOMAINS.has(domain)) continue;
    const custom = ops.filter((op) => !local.has(`${domain}:${op}`));
    if (custom.length > 0) unknown[domain] = custom;
  }
  return unknown;
}

function checkValue(value: OnnxValue, kind: 'input' | 'output'): void {
  const fail = (why: string, fix: string) => new TandemError('onnx_unsupported_io', `graph ${kind} "${value.name}" ${why}; ${fix}`);
  const type = value.type;
  if (type.kind !== 'tensor') {
    const what = type.kind === 'none' ? 'declares no type' : `is a ${type.kind.replace('_', ' ')}, not a dense tensor`;
    throw fail(
      what,
      `the inference protocol carries dense tensors only: export the model so that every ${kind} is one (split sequences and maps into tensors, e.g. in a wrapper module)`,
    );
  }
  if (type.dtype === undefined) {
    throw fail(
      `has element type ${elemTypeName(type.elemType)}`,
      'Tandem takes bool, (u)int8/16/32/64, float16/32/64 and string tensors: cast it in the model (e.g. bfloat16 to float32) and export again',
    );
  }
  if (type.shape === undefined) {
    throw fail(
      'declares no shape, so its rank is unknown',
      'export it with a shape (dynamic axes keep sizes open), or set one with onnx.tools.update_model_dims',
    );
  }
  if (type.shape.length > 16) throw fail(`has rank ${type.shape.length}`, 'the manifest takes tensors of rank 16 at most');
  if (value.name === '' || value.name.length > 256)
    throw fail('has no name, or one over 256 characters', 'rename it in the exporter (input_names/output_names)');
}

/** The protocol names each tensor once: an output listed twice would answer every request with two of one name. */
function checkUniqueNames(values: readonly OnnxValue[], kind: 'input' | 'output'): void {
  const seen = new Set<string>();
  for (const { name } of values) {
    if (seen.has(name)) {
      throw new TandemError(
        'onnx_unsupported_io',
        `graph ${kind} "${name}" is listed twice among the graph's ${kind}s; the inference protocol names each tensor once: list it once (or, for two ${kind}s, give the second its own name through an Identity node) and export again`,
      );
    }
    seen.add(name);
  }
}

function listed(items: readonly string[], max = 5): string {
  const shown = items
    .slice(0, max)
    .map((s) => `"${s}"`)
    .join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}
