/**
 * Probes the browser once for what placement needs: a WebGPU adapter with its limits and features (`shader-f16`
 * decides whether an fp16 variant can run), device memory, cores,
 * the storage quota left, connectivity. Every read is guarded: a missing API means "unknown", never a throw.
 */
import type { DeviceCapabilities, WebGpuCapabilities } from '../core/capabilities.ts';

interface GpuAdapterLike {
  limits?: { maxBufferSize?: number; maxStorageBufferBindingSize?: number };
  features?: { has(name: string): boolean; forEach?(callback: (value: string) => void): void };
}

interface NavigatorExtras {
  gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> };
  deviceMemory?: number;
  connection?: { effectiveType?: string; saveData?: boolean; downlink?: number };
}

async function probeWebGpu(nav: NavigatorExtras): Promise<WebGpuCapabilities> {
  if (!nav.gpu) return { available: false, reason: 'navigator.gpu is not exposed' };
  try {
    const adapter = await nav.gpu.requestAdapter();
    if (!adapter) return { available: false, reason: 'requestAdapter() returned null' };
    const out: WebGpuCapabilities = { available: true };
    if (adapter.limits?.maxBufferSize !== undefined) out.maxBufferSize = adapter.limits.maxBufferSize;
    if (adapter.limits?.maxStorageBufferBindingSize !== undefined) out.maxStorageBufferBindingSize = adapter.limits.maxStorageBufferBindingSize;
    const features: string[] = [];
    adapter.features?.forEach?.((name) => void features.push(name));
    out.features = features.sort();
    return out;
  } catch (err) {
    return { available: false, reason: `requestAdapter() failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * @example
 * const caps = await probeCapabilities();
 * if (!caps.webgpu.available) console.log(caps.webgpu.reason);
 */
export async function probeCapabilities(): Promise<DeviceCapabilities> {
  const nav = (typeof navigator === 'undefined' ? {} : navigator) as Navigator & NavigatorExtras;
  const [webgpu, estimate] = await Promise.all([probeWebGpu(nav), nav.storage?.estimate?.().catch(() => undefined) ?? Promise.resolve(undefined)]);
  const caps: DeviceCapabilities = {
    webgpu,
    wasm: typeof WebAssembly === 'object',
    memoryMiB: typeof nav.deviceMemory === 'number' ? nav.deviceMemory * 1024 : undefined,
    cores: typeof nav.hardwareConcurrency === 'number' ? nav.hardwareConcurrency : undefined,
    storageAvailableMiB: estimate?.quota === undefined ? undefined : (estimate.quota - (estimate.usage ?? 0)) / 2 ** 20,
    online: nav.onLine ?? true,
    crossOriginIsolated: typeof crossOriginIsolated === 'boolean' && crossOriginIsolated,
  };
  if (nav.connection) {
    caps.connection = {
      ...(nav.connection.effectiveType !== undefined ? { effectiveType: nav.connection.effectiveType } : {}),
      ...(nav.connection.saveData !== undefined ? { saveData: nav.connection.saveData } : {}),
      ...(nav.connection.downlink !== undefined ? { downlinkMbps: nav.connection.downlink } : {}),
    };
  }
  return caps;
}
