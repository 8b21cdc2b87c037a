import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TandemError } from './errors.ts';
import { modelRef, parseManifest, variantForTier } from './manifest.ts';
import { manifestArbitrary, sampleManifest } from './test-support/manifest-arbitrary.ts';

function invalidReason(value: unknown): string {
  try {
    parseManifest(value);
  } catch (err) {
    expect(err).toBeInstanceOf(TandemError);
    expect((err as TandemError).code).toBe('manifest_invalid');
    return (err as TandemError).message;
  }
  throw new Error('expected the manifest to be rejected');
}

describe('manifest schema', () => {
  it('accepts every generated valid manifest, unchanged through JSON', () => {
    fc.assert(
      fc.property(manifestArbitrary, (manifest) => {
        const json = JSON.parse(JSON.stringify(manifest));
        expect(parseManifest(json)).toEqual(json);
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ['an unknown schema version', { schemaVersion: 2 }, 'schemaVersion'],
    ['an id with upper case', { id: 'MLP' }, 'id'],
    ['a version that is not semver', { version: 'v1' }, 'version'],
    ['a created time that is not ISO 8601', { createdAt: 'yesterday' }, 'createdAt'],
    ['no variants', { variants: [] }, 'variants'],
    ['an unknown top-level field', { extra: true }, 'extra'],
  ])('rejects %s, naming the field', (_, patch, field) => {
    expect(invalidReason({ ...sampleManifest(), ...patch })).toContain(field);
  });

  it.each([
    ['a short sha256', (v: any) => (v.artifact.sha256 = 'abc'), 'variants.0.artifact.sha256'],
    ['upper-case sha256 hex', (v: any) => (v.artifact.sha256 = 'AB'.repeat(32)), 'variants.0.artifact.sha256'],
    ['a path that escapes the version directory', (v: any) => (v.artifact.path = '../keys.json'), 'variants.0.artifact.path'],
    ['zero bytes', (v: any) => (v.artifact.bytes = 0), 'variants.0.artifact.bytes'],
    ['an unknown dtype', (v: any) => (v.inputs[0].dtype = 'float8'), 'variants.0.inputs.0.dtype'],
    ['a negative dimension', (v: any) => (v.inputs[0].shape = [-1, 256]), 'variants.0.inputs.0.shape.0'],
    ['an unknown tier', (v: any) => (v.tier = 'edge'), 'variants.0.tier'],
    ['an unknown backend', (v: any) => (v.requirements.backends = ['cuda']), 'variants.0.requirements.backends.0'],
    ['no backends', (v: any) => (v.requirements.backends = []), 'variants.0.requirements.backends'],
    ['an unknown quantization', (v: any) => (v.quantization = { method: 'int4' }), 'variants.0.quantization'],
    ['an unknown batching', (v: any) => (v.batching = 'columns'), 'variants.0.batching'],
    ['an input listed twice', (v: any) => v.inputs.push({ ...v.inputs[0] }), 'variants.0.inputs: duplicate tensor name'],
    ['an output listed twice', (v: any) => v.outputs.push({ ...v.outputs[0], shape: [] }), 'variants.0.outputs: duplicate tensor name'],
  ])('rejects a variant with %s, naming the field', (_, mutate, path) => {
    const manifest = structuredClone(sampleManifest());
    mutate(manifest.variants[0]);
    expect(invalidReason(manifest)).toContain(path);
  });

  it.each(['__proto__', 'constructor'])('rejects a record key %j rather than silently dropping it', (key) => {
    const text = JSON.stringify(sampleManifest()).replace('"task"', `"evaluation":{"${key}":1,"accuracy":0.9},"task"`);
    expect(invalidReason(JSON.parse(text))).toMatch(/evaluation.*reserved key/);
  });

  it('takes a variant with or without batching (manifests written before it stay valid)', () => {
    const m = sampleManifest();
    expect(parseManifest(m).variants[0]!.batching).toBeUndefined();
    for (const batching of ['rows', 'none'] as const) {
      expect(parseManifest({ ...m, variants: [{ ...m.variants[0]!, batching }] }).variants[0]!.batching).toBe(batching);
    }
  });

  it('takes an input and an output of the same name (a graph input passed through)', () => {
    const m = sampleManifest();
    const v = m.variants[0]!;
    expect(() => parseManifest({ ...m, variants: [{ ...v, outputs: [...v.outputs, { ...v.inputs[0]! }] }] })).not.toThrow();
  });

  it('rejects duplicate variant names', () => {
    const m = sampleManifest();
    expect(invalidReason({ ...m, variants: [m.variants[0], m.variants[0]] })).toMatch(/duplicate variant "int8"/);
  });

  it('gives a typed error, never a crash, for arbitrary values', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(() => parseManifest(value)).toThrowError(TandemError);
      }),
    );
  });

  it('finds the variant for a tier and names the model', () => {
    const m = sampleManifest();
    expect(variantForTier(m, 'device')?.name).toBe('int8');
    expect(variantForTier(m, 'origin')).toBeUndefined();
    expect(modelRef(m)).toBe('mlp-classifier@1.0.0');
  });
});
