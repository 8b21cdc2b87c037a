import { describe, expect, it } from 'vitest';
import type { TensorSpec } from '../../protocol/manifest.ts';
import { checkSyntheticSize, SYNTHETIC_INPUT_LIMITS, syntheticInputs, warmUpInputs } from './sample-inputs.ts';

const spec = (name: string, shape: TensorSpec['shape'], dtype: TensorSpec['dtype'] = 'float32'): TensorSpec => ({ name, dtype, shape });
const floatsOf = (bytes: number) => bytes / 4;

describe('synthetic input limits', () => {
  it('takes an input of exactly the per-input limit, dynamic dimensions counted as 1', () => {
    expect(() => checkSyntheticSize([spec('x', ['batch', floatsOf(SYNTHETIC_INPUT_LIMITS.perInputBytes)])])).not.toThrow();
  });

  it('refuses one byte-width over it before allocating, naming the input, its shape and the limit', () => {
    const specs = [spec('ids', ['batch', SYNTHETIC_INPUT_LIMITS.perInputBytes / 8 + 1], 'int64')];
    for (const make of [syntheticInputs, warmUpInputs]) {
      expect(() => make(specs)).toThrowError(
        expect.objectContaining({
          code: 'onnx_unsupported_io',
          message: expect.stringMatching(/input "ids" of shape \[batch, 33554433\] \(int64\).*256 MiB limit/),
        }),
      );
    }
  });

  it('refuses inputs each under the limit whose sum is over the total, naming the one that passes it', () => {
    const quarter = floatsOf(SYNTHETIC_INPUT_LIMITS.totalBytes / 4);
    const specs = ['a', 'b', 'c', 'd', 'e'].map((name) => spec(name, [quarter]));
    expect(() => checkSyntheticSize(specs.slice(0, 4))).not.toThrow();
    expect(() => checkSyntheticSize(specs)).toThrowError(/input "e" .*over the 1024 MiB limit/);
  });

  it('counts strings and products past 2^53 without failing otherwise', () => {
    expect(() => checkSyntheticSize([spec('s', [2 ** 30], 'string')])).toThrowError(/input "s"/);
    expect(() => checkSyntheticSize([spec('x', [2 ** 40, 2 ** 40])])).toThrowError(expect.objectContaining({ code: 'onnx_unsupported_io' }));
  });
});
