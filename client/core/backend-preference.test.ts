import { describe, expect, it } from 'vitest';
import type { Manifest, ManifestVariant } from '../../protocol/manifest.ts';
import { orderBackends, parseExecutionProviders, withBackendPreference } from './backend-preference.ts';
import { CAPABLE_DEVICE } from './capabilities.ts';
import { decidePlacement } from './placement.ts';

const device = (name: string, backends: ('webgpu' | 'wasm')[], features?: string[]): ManifestVariant => ({
  name,
  tier: 'device',
  artifact: { path: `${name}.onnx`, sha256: 'a'.repeat(64), bytes: 100, mediaType: 'application/vnd.onnx' },
  opset: 17,
  inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 2] }],
  quantization: { method: 'none' },
  requirements: { minMemoryMiB: 1, minStorageMiB: 1, backends, ...(features ? { features } : {}) },
});
const manifest: Manifest = {
  schemaVersion: 1,
  id: 'm',
  version: '1.0.0',
  createdAt: '2026-01-01T00:00:00Z',
  task: 'classification',
  variants: [device('fp16', ['webgpu'], ['shader-f16']), device('fp32-device', ['webgpu', 'wasm'])],
};
const gpu = { ...CAPABLE_DEVICE, webgpu: { available: true, features: ['shader-f16'] } };

describe('parseExecutionProviders', () => {
  it("takes onnxruntime-web's names and { name } objects, best first, once each", () => {
    expect(parseExecutionProviders(undefined)).toBeUndefined();
    expect(parseExecutionProviders(['wasm', { name: 'webgpu' }, 'wasm'])).toEqual(['wasm', 'webgpu']);
  });

  it('refuses an empty list, an unknown backend and a non-list with bad_request', () => {
    for (const bad of [[], ['cpu'], ['webnn'], 'wasm', [{}]])
      expect(() => parseExecutionProviders(bad)).toThrow(expect.objectContaining({ code: 'bad_request' }));
  });
});

describe('a backend preference in placement', () => {
  it('without one, the manifest decides: fp16 on WebGPU', () => {
    expect(decidePlacement(manifest, withBackendPreference(gpu, undefined), 'device-only').variant.name).toBe('fp16');
  });

  it("['wasm'] passes over the WebGPU-only variant and never tries WebGPU", () => {
    const preferred = parseExecutionProviders(['wasm']);
    const d = orderBackends(decidePlacement(manifest, withBackendPreference(gpu, preferred), 'device-only'), preferred);
    expect([d.variant.name, d.backends]).toEqual(['fp32-device', ['wasm']]);
    expect(d.reason).toMatch(/fp16: .*not in executionProviders/);
  });

  it("['wasm', 'webgpu'] keeps both, in that order", () => {
    const preferred = parseExecutionProviders(['wasm', 'webgpu']);
    const d = orderBackends(
      decidePlacement({ ...manifest, variants: [manifest.variants[1]!] }, withBackendPreference(gpu, preferred), 'device-only'),
      preferred,
    );
    expect(d.backends).toEqual(['wasm', 'webgpu']);
  });

  it("['webgpu'] on a device without WebGPU: device_unsupported under device-only", () => {
    const preferred = parseExecutionProviders(['webgpu']);
    expect(() => decidePlacement(manifest, withBackendPreference(CAPABLE_DEVICE, preferred), 'device-only')).toThrow(
      expect.objectContaining({ code: 'device_unsupported' }),
    );
  });
});
