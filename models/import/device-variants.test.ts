import { describe, expect, it } from 'vitest';
import {
  BUILT_IN_MAKERS,
  defaultDevices,
  DEVICE_WEIGHT_LIMIT_BYTES,
  deviceVariantName,
  fp32DeviceMaker,
  parseDeviceFlag,
  type DeviceMakers,
} from './device-variants.ts';

const withInt8: DeviceMakers = {
  ...BUILT_IN_MAKERS,
  int8: {
    name: 'int8',
    make: async (b) => b,
    quantization: { method: 'dynamic-int8', weightDtype: 'int8', activationDtype: 'uint8', granularity: 'per-channel' },
    backends: ['wasm'],
  },
};

describe('--device', () => {
  it('lists variants in the order given, none for an origin-only version, undefined for the default', () => {
    expect(parseDeviceFlag('int8, fp32', withInt8)).toEqual(['int8', 'fp32']);
    expect(parseDeviceFlag('none', withInt8)).toEqual([]);
    expect(parseDeviceFlag(undefined, withInt8)).toBeUndefined();
  });

  it('refuses unknown, repeated and unavailable variants before any work', () => {
    expect(() => parseDeviceFlag('int4', withInt8)).toThrow(
      expect.objectContaining({ code: 'bad_request', message: expect.stringContaining('unknown variant "int4"') }),
    );
    expect(() => parseDeviceFlag('fp32,fp32', withInt8)).toThrow(/listed twice/);
    expect(() => parseDeviceFlag('fp16', withInt8)).toThrow(/cannot make a "fp16" variant yet \(available: fp32, int8, or none\)/);
    expect(() => parseDeviceFlag('none,fp32', withInt8)).toThrow(/unknown variant "none"/);
    expect(() => parseDeviceFlag(',', withInt8)).toThrow(/comma list/);
  });

  it('defaults to fp32 up to 200 MiB of weights, to none above', () => {
    expect(defaultDevices(DEVICE_WEIGHT_LIMIT_BYTES)).toEqual(['fp32']);
    expect(defaultDevices(DEVICE_WEIGHT_LIMIT_BYTES + 1)).toEqual([]);
  });

  it('keeps the bytes for fp32 and names it apart from the origin variant', async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    expect(await fp32DeviceMaker.make(bytes)).toBe(bytes);
    expect(deviceVariantName('fp32', 'fp32')).toBe('fp32-device');
    expect(deviceVariantName('int8', 'fp32')).toBe('int8');
  });
});
