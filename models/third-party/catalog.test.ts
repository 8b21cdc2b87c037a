/**
 * Every catalogued third-party model loads and runs on its example inputs in onnxruntime-node (the
 * reference, what the origin runs), with finite outputs shaped as the model declares, and onnxruntime-web's
 * WASM backend (what browsers run) agrees with it within 1e-3 relative and 1e-4 absolute.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { THIRD_PARTY_MODELS, thirdPartyModel, type OrtLikeTensor, type ThirdPartyModel } from './catalog.ts';

const RELATIVE_TOLERANCE = 1e-3;
const ABSOLUTE_TOLERANCE = 1e-4;

type Outputs = Record<string, { dims: readonly number[]; data: unknown }>;

interface Runner {
  inputMetadata: readonly ortNode.InferenceSession.ValueMetadata[];
  outputMetadata: readonly ortNode.InferenceSession.ValueMetadata[];
  run(inputs: Record<string, OrtLikeTensor>): Promise<Outputs>;
  release(): Promise<void>;
}

async function nodeRunner(bytes: Uint8Array): Promise<Runner> {
  const session = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  return {
    inputMetadata: session.inputMetadata,
    outputMetadata: session.outputMetadata,
    run: async (inputs) => {
      const feeds: Record<string, ortNode.Tensor> = {};
      for (const [name, t] of Object.entries(inputs)) feeds[name] = new ortNode.Tensor(t.type, t.data, [...t.dims]);
      return session.run(feeds);
    },
    release: () => session.release(),
  };
}

async function webRunner(bytes: Uint8Array): Promise<Runner> {
  // One thread, .wasm from node_modules (never the network), as models/test-runtimes.ts sets it up.
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.wasmPaths = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), '/')).href;
  const session = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  return {
    inputMetadata: session.inputMetadata as Runner['inputMetadata'],
    outputMetadata: session.outputMetadata as Runner['outputMetadata'],
    run: async (inputs) => {
      const feeds: Record<string, ortWeb.Tensor> = {};
      for (const [name, t] of Object.entries(inputs)) feeds[name] = new ortWeb.Tensor(t.type, t.data, [...t.dims]);
      return session.run(feeds);
    },
    release: () => session.release(),
  };
}

/** Indices of NaN or ±Infinity in a float output. */
function nonFinite(data: unknown): number[] {
  if (!(data instanceof Float32Array)) return [];
  const bad: number[] = [];
  for (let i = 0; i < data.length && bad.length < 5; i++) if (!Number.isFinite(data[i]!)) bad.push(i);
  return bad;
}

/** The first element where `actual` and `reference` differ by more than the tolerance, or null. */
function firstDisagreement(actual: Float32Array, reference: Float32Array): string | null {
  if (actual.length !== reference.length) return `lengths ${actual.length} and ${reference.length}`;
  for (let i = 0; i < reference.length; i++) {
    const a = actual[i]!;
    const r = reference[i]!;
    if (!(Math.abs(a - r) <= ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * Math.abs(r))) return `element ${i}: web ${a}, node ${r}`;
  }
  return null;
}

describe('third-party model catalog', () => {
  it('has distinct keys, pinned versions and at least five models from four families', () => {
    const keys = THIRD_PARTY_MODELS.map((m) => m.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(THIRD_PARTY_MODELS.length).toBeGreaterThanOrEqual(5);
    for (const m of THIRD_PARTY_MODELS) expect(m.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(new Set(THIRD_PARTY_MODELS.map((m) => m.family.split(/[ ,(]/)[0])).size).toBeGreaterThanOrEqual(4);
    expect(() => thirdPartyModel('no-such-model')).toThrow(/no third-party model/);
  });

  it('generates the same examples for a seed, and different ones for another seed', () => {
    for (const m of THIRD_PARTY_MODELS) {
      const [a, b, c] = [m.examples(1), m.examples(1), m.examples(2)];
      expect(a.map((e) => e.name)).toEqual(b.map((e) => e.name));
      for (const [i, example] of a.entries()) {
        for (const [name, tensor] of Object.entries(example.inputs)) {
          expect(tensor.data, `${m.key} ${example.name} ${name}`).toEqual(b[i]!.inputs[name]!.data);
        }
      }
      const floats = (examples: typeof a) =>
        examples.flatMap((e) => Object.values(e.inputs)).filter((t) => t.type === 'float32' && t.data.some((v) => v !== 0));
      expect(floats(a)[0]!.data, m.key).not.toEqual(floats(c)[0]!.data);
    }
  });
});

describe.each(THIRD_PARTY_MODELS.map((m) => [m.key, m] as [string, ThirdPartyModel]))('%s', (_key, model) => {
  let node: Runner;
  let web: Runner;
  const examples = model.examples();
  const reference = new Map<string, Outputs>();

  beforeAll(async () => {
    const bytes = new Uint8Array(await readFile(model.path()));
    expect(bytes.length, `${model.package}@${model.version} ${model.file}`).toBe(model.bytes);
    [node, web] = await Promise.all([nodeRunner(bytes), webRunner(bytes)]);
  });
  afterAll(async () => {
    await node?.release();
    await web?.release();
  });

  it('takes the inputs its examples give, with the declared dtypes and ranks', () => {
    expect(node.inputMetadata.map((m) => m.name).sort()).toEqual(Object.keys(examples[0]!.inputs).sort());
    for (const example of examples) {
      for (const meta of node.inputMetadata) {
        const tensor = example.inputs[meta.name]!;
        if (!meta.isTensor) throw new Error(`${meta.name} is not a tensor`);
        expect(tensor.type, meta.name).toBe(meta.type);
        expect(tensor.dims.length, meta.name).toBe(meta.shape.length);
        meta.shape.forEach((dim, axis) => {
          if (typeof dim === 'number' && dim >= 0) expect(tensor.dims[axis], `${meta.name}[${axis}]`).toBe(dim);
        });
      }
    }
  });

  it('runs every example in onnxruntime-node: finite outputs, shaped as the model declares', async () => {
    for (const example of examples) {
      const outputs = await node.run(example.inputs);
      reference.set(example.name, outputs);
      for (const meta of node.outputMetadata) {
        const output = outputs[meta.name];
        expect(output, `${example.name}: output ${meta.name}`).toBeDefined();
        if (!meta.isTensor) continue;
        expect(output!.dims.length, `${example.name}: ${meta.name} rank`).toBe(meta.shape.length);
        meta.shape.forEach((dim, axis) => {
          if (typeof dim === 'number' && dim >= 0) expect(output!.dims[axis], `${example.name}: ${meta.name}[${axis}]`).toBe(dim);
        });
        expect(output!.dims[0], `${example.name}: ${meta.name} keeps the batch`).toBeGreaterThan(0);
        expect(nonFinite(output!.data), `${example.name}: ${meta.name} non-finite elements`).toEqual([]);
      }
    }
  });

  it('agrees in onnxruntime-web (WASM) with onnxruntime-node within 1e-3 relative, 1e-4 absolute', async () => {
    for (const example of examples) {
      const expected = reference.get(example.name) ?? (await node.run(example.inputs));
      const actual = await web.run(example.inputs);
      for (const [name, ref] of Object.entries(expected)) {
        const got = actual[name];
        expect(got, `${example.name}: web output ${name}`).toBeDefined();
        expect([...got!.dims], `${example.name}: ${name} dims`).toEqual([...ref.dims]);
        expect(firstDisagreement(got!.data as Float32Array, ref.data as Float32Array), `${example.name}: ${name}`).toBeNull();
      }
    }
  });
});
