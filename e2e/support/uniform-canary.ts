/**
 * A canary whose answers are bad in the way automatic rollback looks for: a version of a classifier with
 * the same inputs and outputs as the version it follows, but whose logits are all near 0, so every answer
 * is near-uniform (top-class confidence about 1/classes, far below any sane `minMedianConfidence`). It is a
 * real signed version on disk, its fp32 (origin) and int8 (device) artifacts built by models/'s ONNX writer,
 * so the origin loads and serves it, the device downloads and runs it, and only its figures give it away.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { copyVersion, type TestRepository } from '../../origin/test-support.ts';
import type { Manifest } from '../../protocol/manifest.ts';
import { ENVELOPE_FILE } from '../../protocol/repository-layout.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { signManifest } from '../../protocol/signed-manifest.ts';
import { addDense, addQuantizedDense } from '../../models/onnx/dense-nodes.ts';
import { GraphBuilder } from '../../models/onnx/graph-builder.ts';
import { quantizeDense, type Dense } from '../../models/nn/dense.ts';
import { addClassifierOutputs } from '../../models/recipes/classifier-variants.ts';

/** Weights of the single layer: small enough that |logit| stays under about 1e-2 for inputs of order 1. */
const WEIGHT = 1e-5;

/**
 * Stores version `to` of classifier `id` (one float32 input `[batch, n]`, outputs `logits` and
 * `probabilities`), copied from `from` and re-signed, with its artifacts replaced by one dense layer of
 * near-zero weights and zero bias.
 * @returns the signed manifest of `to`.
 */
export async function uniformCanary(repo: TestRepository, id: string, from: string, to: string): Promise<Manifest> {
  const copied = await copyVersion(repo, id, from, to);
  const input = copied.variants[0]!.inputs[0]!;
  const inputs = Number(input.shape.at(-1));
  const classes = Number(copied.variants[0]!.outputs[0]!.shape.at(-1));
  // Alternating signs, so the logits do not all move together with the input's mean.
  const layer: Dense = {
    inputs,
    outputs: classes,
    weight: Float32Array.from({ length: inputs * classes }, (_, i) => (i % 2 === 0 ? WEIGHT : -WEIGHT)),
    bias: new Float32Array(classes),
  };
  const build = (quantize: boolean): Uint8Array => {
    const g = new GraphBuilder(id);
    const x = g.input(input.name, 'float32', input.shape);
    if (quantize) addQuantizedDense(g, 'fc1', x, quantizeDense(layer), false, 'logits');
    else addDense(g, 'fc1', x, layer, false, 'logits');
    addClassifierOutputs(g, classes);
    return g.build({ docString: `${id} ${to}: a near-uniform canary (e2e fixture)` });
  };
  const dir = join(repo.repository, id, to);
  const variants = [];
  for (const variant of copied.variants) {
    const bytes = build(variant.quantization.method !== 'none');
    await writeFile(join(dir, variant.artifact.path), bytes);
    variants.push({ ...variant, artifact: { ...variant.artifact, sha256: await sha256Hex(bytes), bytes: bytes.length } });
  }
  const manifest: Manifest = { ...copied, variants };
  await writeFile(join(dir, ENVELOPE_FILE), JSON.stringify(await signManifest(manifest, [repo.key]), null, 2));
  return manifest;
}
