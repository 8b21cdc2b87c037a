import { describe, expect, it } from 'vitest';
import type { TensorSpec } from '../../protocol/manifest.ts';
import { nearestVersions, signatureMismatch } from './nearest-version.ts';

describe('nearestVersions', () => {
  it('same major first: below, highest first, then above, lowest first; then the other majors alike', () => {
    expect(nearestVersions('1.1.0', ['2.0.0', '0.9.0', '1.0.0', '1.2.0', '1.0.5', '1.3.0', '1.1.0'])).toEqual([
      '1.0.5',
      '1.0.0',
      '1.2.0',
      '1.3.0',
      '0.9.0',
      '2.0.0',
    ]);
  });

  it('orders by semantic version, not text (1.10.0 above 1.9.0; a pre-release below its release)', () => {
    expect(nearestVersions('1.9.5', ['1.10.0', '1.9.0', '1.2.0'])).toEqual(['1.9.0', '1.2.0', '1.10.0']);
    expect(nearestVersions('1.0.0', ['1.0.0-rc.1', '1.0.1'])).toEqual(['1.0.0-rc.1', '1.0.1']);
  });

  it('leaves out the requested version, duplicates and strings that are not versions', () => {
    expect(nearestVersions('1.0.0', ['1.0.0', 'latest', '0.1.0', '0.1.0'])).toEqual(['0.1.0']);
    expect(nearestVersions('1.0.0', [])).toEqual([]);
  });
});

const spec = (name: string, shape: (number | string)[], dtype: TensorSpec['dtype'] = 'float32'): TensorSpec => ({ name, dtype, shape });
const signature = {
  inputs: [spec('x', ['batch', 256]), spec('mask', ['batch', 256], 'bool')],
  outputs: [spec('logits', ['batch', 10]), spec('probabilities', ['batch', 10])],
};

describe('signatureMismatch', () => {
  it('accepts the same names, dtypes and fixed dims, whatever the symbolic dims are called, in any order', () => {
    const renamed = {
      inputs: [spec('mask', ['n', 256], 'bool'), spec('x', ['n', 256])],
      outputs: [spec('probabilities', ['n', 10]), spec('logits', ['n', 10])],
    };
    expect(signatureMismatch(signature, renamed)).toBeUndefined();
  });

  it('names what differs: an input, a dtype, a fixed dim, a rank, a symbolic dim made fixed, the outputs', () => {
    const withInputs = (inputs: TensorSpec[]) => ({ ...signature, inputs });
    expect(signatureMismatch(signature, withInputs([spec('x', ['batch', 256])]))).toBe('inputs x, not mask, x');
    expect(signatureMismatch(signature, withInputs([spec('x', ['batch', 256], 'float16'), signature.inputs[1]!]))).toBe(
      'input x is float16 [batch, 256], not float32 [batch, 256]',
    );
    expect(signatureMismatch(signature, withInputs([spec('x', ['batch', 128]), signature.inputs[1]!]))).toMatch(/input x is float32 \[batch, 128\]/);
    expect(signatureMismatch(signature, withInputs([spec('x', [256]), signature.inputs[1]!]))).toMatch(/input x/);
    expect(signatureMismatch(signature, withInputs([spec('x', [1, 256]), signature.inputs[1]!]))).toMatch(/input x/);
    expect(signatureMismatch(signature, { ...signature, outputs: [spec('logits', ['batch', 10])] })).toBe('outputs logits, not logits, probabilities');
  });
});
