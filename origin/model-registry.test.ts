/**
 * A batch one request poisons, on real onnxruntime: requests merged into one run, one of them with an
 * index past a Gather's table. Found by a probe: every request in such a batch got 500 inference_failed
 * naming the other client's index. Now only that request fails, with its own index in the message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder, int } from '../models/onnx/graph-builder.ts';
import type { RunningOrigin } from './server.ts';
import { fillingBatches, importedRepository, infer, startTestOrigin, type TestRepository } from './test-support.ts';

const ROWS = 10;
const WIDTH = 3;

/** out[b] = sum_j table[ids[b, j]], table[r] = [3r, 3r+1, 3r+2]: onnxruntime fails the run on an id outside [-10, 9]. */
function embedModel(): Uint8Array {
  const g = new GraphBuilder('embed');
  const ids = g.input('ids', 'int64', ['batch', 4]);
  const table = g.initializer(
    'table',
    'float32',
    [ROWS, WIDTH],
    Float32Array.from({ length: ROWS * WIDTH }, (_, i) => i),
  );
  const rows = g.op('Gather', [table, ids], { axis: int(0) });
  const axes = g.initializer('axes', 'int64', [1], new BigInt64Array([1n]));
  g.op('ReduceSum', [rows, axes], { keepdims: int(0) }, 'out');
  g.output('out', 'float32', ['batch', WIDTH]);
  return g.build({ docString: 'embedding bag' });
}

function expectedOut(ids: readonly number[]): number[] {
  return Array.from({ length: WIDTH }, (_, k) => ids.reduce((sum, id) => sum + WIDTH * id + k, 0));
}

describe('a merged batch one request poisons, on onnxruntime', () => {
  let repo: TestRepository;
  let origin: RunningOrigin;
  let lines: Record<string, unknown>[];

  beforeAll(async () => {
    repo = await importedRepository({ embed: embedModel() });
    // A long fill window, so the concurrent requests below reliably share a run.
    ({ origin, lines } = await startTestOrigin(repo, fillingBatches(200)));
  });
  afterAll(async () => {
    await origin?.shutdown();
    await repo?.cleanup();
  });

  const request = (ids: readonly number[]) => ({
    inputs: [{ name: 'ids', dtype: 'int64' as const, dims: [1, 4], data: BigInt64Array.from(ids.map(BigInt)) }],
  });

  it('answers every good request with its own row and fails only the bad ones, each naming its own index', async () => {
    const ids = Array.from({ length: 24 }, (_, i) => (i % 8 === 3 ? [1, 2, 3, 90 + i] : [i % ROWS, (i + 1) % ROWS, 2, 0]));
    const results = await Promise.all(ids.map((row) => infer(origin.url, 'embed', request(row))));
    results.forEach((result, i) => {
      const row = ids[i]!;
      if (row[3]! >= ROWS) {
        expect(result.ok, `request ${i}`).toBe(false);
        if (result.ok) return;
        expect(result.error.code).toBe('inference_failed');
        expect(result.error.message).toContain(`idx=${row[3]}`);
        for (const other of ids) if (other !== row && other[3]! >= ROWS) expect(result.error.message).not.toContain(`idx=${other[3]}`);
      } else {
        if (!result.ok) throw new Error(`request ${i} failed: ${result.error.message}`);
        expect(Array.from(result.response.outputs[0]!.data as Float32Array), `request ${i}`).toEqual(expectedOut(row));
      }
    });
    // The bad requests really were batched with good ones, and the split was logged once per batch.
    const splits = lines.filter((l) => l.event === 'batch_split');
    expect(splits.length).toBeGreaterThan(0);
    expect(splits.reduce((n, l) => n + Number(l.failed_alone), 0)).toBe(3);
    expect(splits[0]).toMatchObject({ model: 'embed', version: '1.0.0', reason: expect.stringMatching(/onnxruntime run failed: .*idx=9\d/) });
  });
});
