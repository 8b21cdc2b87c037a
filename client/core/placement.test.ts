import { describe, expect, it } from 'vitest';
import type { Manifest, ManifestVariant } from '../../protocol/manifest.ts';
import { CAPABLE_DEVICE, type DeviceCapabilities } from './capabilities.ts';
import { decidePlacement, deviceFit, parsePlacementMode } from './placement.ts';

function variant(tier: 'device' | 'origin', requirements: Partial<ManifestVariant['requirements']> = {}): ManifestVariant {
  return {
    name: tier === 'device' ? 'int8' : 'fp32',
    tier,
    artifact: { path: `${tier}.onnx`, sha256: 'a'.repeat(64), bytes: 100, mediaType: 'application/vnd.onnx' },
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 2] }],
    quantization: { method: 'none' },
    requirements: { minMemoryMiB: 128, minStorageMiB: 2, backends: tier === 'device' ? ['webgpu', 'wasm'] : ['cpu'], ...requirements },
  };
}

function manifest(...variants: ManifestVariant[]): Manifest {
  return { schemaVersion: 1, id: 'm', version: '1.0.0', createdAt: '2026-01-01T00:00:00Z', task: 'classification', variants };
}

const both = manifest(variant('origin'), variant('device'));
const caps = (o: Partial<DeviceCapabilities> = {}): DeviceCapabilities => ({ ...CAPABLE_DEVICE, ...o });

describe('deviceFit', () => {
  it('fits a capable device and orders backends by the variant, filtered by the device', () => {
    expect(deviceFit(variant('device'), caps())).toEqual({ fits: true, backends: ['wasm'], unmet: [] });
    expect(deviceFit(variant('device'), caps({ webgpu: { available: true } })).backends).toEqual(['webgpu', 'wasm']);
  });

  it('names each failed requirement with what was needed and what the device has', () => {
    const fit = deviceFit(variant('device'), caps({ memoryMiB: 64, storageAvailableMiB: 1, wasm: false, webgpu: { available: false, reason: 'no adapter' } }));
    expect(fit.fits).toBe(false);
    expect(fit.unmet).toEqual([
      'minMemoryMiB: need 128, have 64',
      'minStorageMiB: need 2, have 1',
      'backends: need one of webgpu, wasm, have none (webgpu: no adapter)',
    ]);
  });

  it('counts a capability the browser does not expose as met', () => {
    expect(deviceFit(variant('device'), caps({ memoryMiB: undefined, storageAvailableMiB: undefined })).fits).toBe(true);
  });

  it('never chooses the cpu backend (onnxruntime-node only) on a device', () => {
    expect(deviceFit(variant('device', { backends: ['cpu'] }), caps()).unmet[0]).toMatch(/^backends: need one of cpu/);
  });
});

describe('decidePlacement', () => {
  it('prefer-device: the device when it fits, with the origin as fallback', () => {
    const d = decidePlacement(both, caps(), 'prefer-device');
    expect([d.target, d.variant.name, d.fallback?.target, d.fallback?.variant.name]).toEqual(['device', 'int8', 'origin', 'fp32']);
    expect(d.reason).toBe('prefer-device: int8 meets every requirement');
  });

  it('prefer-device: the origin when the device does not fit, with the failed requirement in the reason', () => {
    const d = decidePlacement(both, caps({ memoryMiB: 64 }), 'prefer-device');
    expect([d.target, d.fallback]).toEqual(['origin', undefined]);
    expect(d.reason).toContain('minMemoryMiB: need 128, have 64');
    expect(d.unmet).toEqual(['minMemoryMiB: need 128, have 64']);
  });

  it('prefer-device without an origin variant and an unfit device is device_unsupported', () => {
    expect(() => decidePlacement(manifest(variant('device')), caps({ wasm: false }), 'prefer-device')).toThrow(
      expect.objectContaining({ code: 'device_unsupported' }),
    );
  });

  it('device-only: the device, no fallback; device_unsupported naming the requirement otherwise', () => {
    const d = decidePlacement(both, caps(), 'device-only');
    expect([d.target, d.fallback]).toEqual(['device', undefined]);
    expect(() => decidePlacement(both, caps({ storageAvailableMiB: 0 }), 'device-only')).toThrow(/minStorageMiB: need 2, have 0/);
  });

  it('prefer-origin: the origin, with the device as fallback only when it fits', () => {
    expect(decidePlacement(both, caps(), 'prefer-origin').fallback?.target).toBe('device');
    const unfit = decidePlacement(both, caps({ memoryMiB: 1 }), 'prefer-origin');
    expect([unfit.target, unfit.fallback]).toEqual(['origin', undefined]);
    expect(unfit.reason).toContain('minMemoryMiB');
    expect(decidePlacement(manifest(variant('device')), caps(), 'prefer-origin').target).toBe('device');
  });

  it('origin-only: the origin, or model_not_found without an origin variant', () => {
    expect(decidePlacement(both, caps(), 'origin-only')).toMatchObject({ target: 'origin', fallback: undefined, reason: 'origin-only' });
    expect(() => decidePlacement(manifest(variant('device')), caps(), 'origin-only')).toThrow(expect.objectContaining({ code: 'model_not_found' }));
  });

  it('a manifest without a device variant says so in the reason', () => {
    expect(decidePlacement(manifest(variant('origin')), caps(), 'prefer-device').reason).toContain('no device-tier variant');
  });

  it('rejects an unknown mode up front', () => {
    expect(() => parsePlacementMode('device-first')).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(parsePlacementMode('origin-only')).toBe('origin-only');
  });
});

describe('several device variants', () => {
  const named = (name: string, requirements: Partial<ManifestVariant['requirements']>): ManifestVariant => ({
    ...variant('device', requirements),
    name,
    artifact: { ...variant('device').artifact, path: `${name}.onnx` },
  });
  const fp16 = named('fp16', { backends: ['webgpu'], features: ['shader-f16'] });
  const int8 = named('int8', { backends: ['wasm', 'webgpu'] });
  const fp32 = named('fp32-device', { backends: ['webgpu', 'wasm'], minMemoryMiB: 512 });
  const three = manifest(variant('origin'), fp16, int8, fp32);

  it('takes fp16 where the WebGPU adapter has shader-f16', () => {
    const d = decidePlacement(three, caps({ webgpu: { available: true, features: ['shader-f16', 'timestamp-query'] } }));
    expect([d.target, d.variant.name, d.backends]).toEqual(['device', 'fp16', ['webgpu']]);
    expect(d.reason).toBe('prefer-device: fp16 meets every requirement');
  });

  it('takes int8 on WASM when the adapter lacks shader-f16, or there is none, and says which it passed over and why', () => {
    const noF16 = decidePlacement(three, caps({ webgpu: { available: true, features: [] } }));
    expect([noF16.variant.name, noF16.backends]).toEqual(['int8', ['wasm', 'webgpu']]);
    expect(noF16.reason).toBe('prefer-device: int8 meets every requirement (over fp16: features: need shader-f16, have none)');
    const noGpu = decidePlacement(three, caps());
    expect([noGpu.variant.name, noGpu.backends]).toEqual(['int8', ['wasm']]);
    expect(noGpu.reason).toMatch(/over fp16: features: need shader-f16, have none \(no WebGPU adapter\), backends: need one of webgpu, have wasm/);
  });

  it('loads the variant asked for by name, passing over better ones; its requirements still hold', () => {
    const gpu = caps({ webgpu: { available: true, features: ['shader-f16'] } });
    const fp32Only = decidePlacement(three, gpu, 'device-only', { variant: 'fp32-device' });
    expect([fp32Only.target, fp32Only.variant.name, fp32Only.backends]).toEqual(['device', 'fp32-device', ['webgpu', 'wasm']]);
    expect(fp32Only.reason).toBe('device-only: fp32-device meets every requirement');
    expect(decidePlacement(three, caps(), 'device-only', { variant: 'int8' }).variant.name).toBe('int8');
    // fp16 on a device without shader-f16: the origin under prefer-device, a typed refusal under device-only.
    const fallback = decidePlacement(three, caps(), 'prefer-device', { variant: 'fp16' });
    expect([fallback.target, fallback.variant.name]).toEqual(['origin', 'fp32']);
    expect(fallback.unmet[0]).toMatch(/^features: need shader-f16/);
    expect(() => decidePlacement(three, caps(), 'device-only', { variant: 'fp16' })).toThrow(
      expect.objectContaining({ code: 'device_unsupported', message: expect.stringMatching(/features: need shader-f16/) }),
    );
  });

  it('a name that is no device variant of the manifest is bad_request, naming the ones it has', () => {
    for (const name of ['fp32', 'int4']) {
      expect(() => decidePlacement(three, caps(), 'prefer-device', { variant: name })).toThrow(
        expect.objectContaining({ code: 'bad_request', message: `m@1.0.0 has no device variant "${name}" (its device variants: fp16, int8, fp32-device)` }),
      );
    }
  });

  it('falls to the origin naming every variant it could not run', () => {
    const d = decidePlacement(three, caps({ memoryMiB: 64 }));
    expect(d.target).toBe('origin');
    expect(d.unmet).toEqual(
      expect.arrayContaining(['fp16 minMemoryMiB: need 128, have 64', 'int8 minMemoryMiB: need 128, have 64', 'fp32-device minMemoryMiB: need 512, have 64']),
    );
  });
});
