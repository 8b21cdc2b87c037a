/**
 * What the device can do, as plain data. The probe that fills it in from browser globals lives in
 * `../adapters/probe-capabilities.ts`; tests and apps that know better pass their own (or override fields).
 */

export interface WebGpuCapabilities {
  /** A WebGPU adapter was obtained. */
  available: boolean;
  /** Why not, when not (no `navigator.gpu`, no adapter, an error). */
  reason?: string;
  /** The adapter's `limits.maxBufferSize` and `maxStorageBufferBindingSize`, in bytes. */
  maxBufferSize?: number;
  maxStorageBufferBindingSize?: number;
  /** The adapter's features (`shader-f16`, ...): a variant's `requirements.features` must all be here. */
  features?: string[];
}

export interface DeviceCapabilities {
  webgpu: WebGpuCapabilities;
  /** WebAssembly is available (SIMD is assumed: onnxruntime-web 1.30 ships SIMD builds only). */
  wasm: boolean;
  /** `navigator.deviceMemory` in MiB (the browser rounds and caps it at 8 GiB); undefined when not exposed. */
  memoryMiB: number | undefined;
  /** `navigator.hardwareConcurrency`; undefined when not exposed. */
  cores: number | undefined;
  /** Storage quota left (quota − usage) in MiB, from `navigator.storage.estimate()`; undefined when not exposed. */
  storageAvailableMiB: number | undefined;
  /** `navigator.onLine`: false means certainly offline; true only means "maybe online". */
  online: boolean;
  /** `navigator.connection`, where exposed (Chromium). */
  connection?: { effectiveType?: string; saveData?: boolean; downlinkMbps?: number };
  /** Cross-origin isolated, so WASM may use threads. */
  crossOriginIsolated: boolean;
}

/** A capable device with nothing unknown: the base tests override one field at a time. */
export const CAPABLE_DEVICE: DeviceCapabilities = {
  webgpu: { available: false, reason: 'not probed' },
  wasm: true,
  memoryMiB: 8192,
  cores: 4,
  storageAvailableMiB: 1024,
  online: true,
  crossOriginIsolated: false,
};

/** Applies overrides to probed capabilities (nested `webgpu` and `connection` are replaced, not merged). */
export function withOverrides(probed: DeviceCapabilities, overrides: Partial<DeviceCapabilities> | undefined): DeviceCapabilities {
  return overrides ? { ...probed, ...overrides } : probed;
}
