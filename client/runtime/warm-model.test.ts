/**
 * The warm-up model: exactly what models/onnx/graph-builder.ts writes for one Relu on a float32[1], and
 * a model the real onnxruntime-web (WASM, under Node) opens and runs.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../models/onnx/graph-builder.ts';
import { WARM_MODEL_BYTES } from './warm-model.ts';

describe('WARM_MODEL_BYTES', () => {
  it("is the graph builder's encoding of Relu(x: float32[1])", () => {
    const g = new GraphBuilder('warm');
    g.op('Relu', [g.input('x', 'float32', [1])], {}, 'y');
    g.output('y', 'float32', [1]);
    expect([...WARM_MODEL_BYTES]).toEqual([...g.build({ docString: '' })]);
  });

  it('opens and runs in onnxruntime-web (WASM)', async () => {
    ort.env.wasm.wasmPaths = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), '/')).href;
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(WARM_MODEL_BYTES.slice(), { executionProviders: ['wasm'] });
    try {
      expect([session.inputNames, session.outputNames]).toEqual([['x'], ['y']]);
      const { y } = await session.run({ x: new ort.Tensor('float32', new Float32Array([-2]), [1]) });
      expect([...(y!.data as Float32Array)]).toEqual([0]);
    } finally {
      await session.release();
    }
  });
});
