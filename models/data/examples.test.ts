import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sharedModelRepository, type TestModelRepository } from '../test-support.ts';
import { openSession } from '../test-runtimes.ts';
import { EXAMPLE_MODELS, exampleInput } from './examples.ts';

let shared: TestModelRepository;
beforeAll(async () => {
  shared = await sharedModelRepository((line) => console.log(line));
});

describe('exampleInput', () => {
  it('is deterministic, differs by index, and has the model input shape', () => {
    const a = exampleInput('mlp-classifier', 3)!;
    expect(a).toMatchObject({ name: 'x', dims: [1, 256], label: 3 });
    expect(a.data).toHaveLength(256);
    expect(exampleInput('mlp-classifier', 3)!.data).toEqual(a.data);
    expect(exampleInput('mlp-classifier', 3, 1)!.data).not.toEqual(a.data);
    expect(exampleInput('shapes-cnn', 0)!).toMatchObject({ name: 'image', dims: [1, 1, 28, 28] });
    expect(exampleInput('large-classifier', 0)).toBeUndefined();
    expect(() => exampleInput('mlp-classifier', 10)).toThrow(RangeError);
  });

  // The examples come from the training distribution, so the built models should recognise nearly all.
  for (const id of EXAMPLE_MODELS) {
    it(`${id} int8 classifies the first example of every class as that class, but for at most one`, async () => {
      const manifest = shared.manifests.get(id)!;
      const path = manifest.variants.find((v) => v.name === 'int8')!.artifact.path;
      const session = await openSession('node', await readFile(join(shared.repository, id, manifest.version, path)));
      let right = 0;
      for (let label = 0; label < 10; label++) {
        const { name, data, dims } = exampleInput(id, label)!;
        const { probabilities } = await session.run({ [name]: { data, dims } });
        const top = probabilities!.indexOf(Math.max(...probabilities!));
        if (top === label) right++;
      }
      expect(right).toBeGreaterThanOrEqual(9);
    });
  }
});
