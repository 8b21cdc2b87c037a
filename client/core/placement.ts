/**
 * Placement: where a model runs, decided before a single artifact byte is downloaded.
 *
 * A plain function over the verified manifest, the probed device capabilities and the app's placement
 * mode. It names the variant to load, the backends to try on the device (best first), what to fall back
 * to, and a human-readable reason that names every requirement the device failed.
 */
import { TandemError } from '../../protocol/errors.ts';
import type { Backend, Manifest, ManifestVariant } from '../../protocol/manifest.ts';
import type { DeviceCapabilities } from './capabilities.ts';

/**
 * - `prefer-device` (default): the device when the device variant fits; the origin otherwise, and when a
 *   device run fails.
 * - `device-only`: the device or a `device_unsupported` error; never the network after the download.
 * - `prefer-origin`: the origin; the device only when the origin is unreachable (and the variant fits).
 * - `origin-only`: always the origin.
 */
export type PlacementMode = 'prefer-device' | 'device-only' | 'prefer-origin' | 'origin-only';

export const PLACEMENT_MODES: readonly PlacementMode[] = ['prefer-device', 'device-only', 'prefer-origin', 'origin-only'];

/** Backends a browser can run; `cpu` is onnxruntime-node's and never chosen on a device. */
export type DeviceBackend = Extract<Backend, 'webgpu' | 'wasm'>;

export type Target = 'device' | 'origin';

export interface PlacementChoice {
  target: Target;
  variant: ManifestVariant;
  /** For the device: backends to try in order, the variant's preference filtered by the device's. */
  backends: DeviceBackend[];
}

export interface PlacementDecision extends PlacementChoice {
  mode: PlacementMode;
  /** Where to go when the first choice fails at run time, if the mode allows it. */
  fallback: PlacementChoice | undefined;
  /** Why: the requirement that failed, or that every requirement held. */
  reason: string;
  /** Each device requirement the device failed, as `name: need X, have Y`; empty when it fits. */
  unmet: string[];
}

export interface DeviceFit {
  fits: boolean;
  backends: DeviceBackend[];
  unmet: string[];
}

/**
 * Checks a device-tier variant's requirements against the device. A capability the browser does not
 * expose (`navigator.deviceMemory` in Safari and Firefox, a storage estimate) counts as met: refusing
 * every such browser would send most of them to the origin for no measured reason.
 */
export function deviceFit(variant: ManifestVariant, caps: DeviceCapabilities): DeviceFit {
  const unmet: string[] = [];
  const req = variant.requirements;
  if (caps.memoryMiB !== undefined && caps.memoryMiB < req.minMemoryMiB) {
    unmet.push(`minMemoryMiB: need ${req.minMemoryMiB}, have ${caps.memoryMiB}`);
  }
  if (caps.storageAvailableMiB !== undefined && caps.storageAvailableMiB < req.minStorageMiB) {
    unmet.push(`minStorageMiB: need ${req.minStorageMiB}, have ${Math.floor(caps.storageAvailableMiB)}`);
  }
  const available = new Set<DeviceBackend>();
  if (caps.webgpu.available) available.add('webgpu');
  if (caps.wasm) available.add('wasm');
  const backends = req.backends.filter((b): b is DeviceBackend => (b === 'webgpu' || b === 'wasm') && available.has(b));
  // Features are the WebGPU adapter's (an fp16 variant needs `shader-f16`).
  const have = caps.webgpu.available ? (caps.webgpu.features ?? []) : [];
  const missing = (req.features ?? []).filter((f) => !have.includes(f));
  if (missing.length > 0)
    unmet.push(`features: need ${missing.join(', ')}, have ${have.join(', ') || 'none'}${caps.webgpu.available ? '' : ' (no WebGPU adapter)'}`);
  if (backends.length === 0) {
    const have = [...available].join(', ') || 'none';
    const gpuNote = caps.webgpu.available || caps.webgpu.reason === undefined ? '' : ` (webgpu: ${caps.webgpu.reason})`;
    unmet.push(`backends: need one of ${req.backends.join(', ')}, have ${have}${gpuNote}`);
  }
  return { fits: unmet.length === 0, backends, unmet };
}

export interface PlacementOptions {
  /**
   * The device variant to consider, by its manifest name (`int8`, `fp16`, `fp32-device`), instead of the
   * first one that fits. Its requirements still hold: a device it does not fit gets the mode's answer for
   * an unfit device (the origin, or `device_unsupported`). Default: every device variant, best first.
   */
  variant?: string;
}

/**
 * @throws TandemError `device_unsupported` when the mode needs the device and the device variant does not
 * fit (or there is none); `model_not_found` when the mode needs the origin and the manifest has no
 * origin-tier variant; `bad_request` when `options.variant` names no device variant of the manifest.
 * @example
 * const decision = decidePlacement(manifest, capabilities, 'prefer-device');
 * console.log(decision.target, decision.reason);
 */
export function decidePlacement(
  manifest: Manifest,
  caps: DeviceCapabilities,
  mode: PlacementMode = 'prefer-device',
  options: PlacementOptions = {},
): PlacementDecision {
  const { variant: deviceVariant, fit, skipped } = chooseDeviceVariant(manifest, caps, options.variant);
  const originVariant = manifest.variants.find((v) => v.tier === 'origin');
  const device: PlacementChoice | undefined = deviceVariant && fit.fits ? { target: 'device', variant: deviceVariant, backends: fit.backends } : undefined;
  const skippedText = skipped.length > 0 ? ` (over ${skipped.join('; ')})` : '';
  const origin: PlacementChoice | undefined = originVariant ? { target: 'origin', variant: originVariant, backends: [] } : undefined;
  const unmetText = fit.unmet.join('; ');
  const ref = `${manifest.id}@${manifest.version}`;
  const decision = (choice: PlacementChoice, fallback: PlacementChoice | undefined, reason: string): PlacementDecision => ({
    ...choice,
    mode,
    fallback,
    reason,
    unmet: fit.unmet,
  });

  switch (mode) {
    case 'device-only':
      if (!device) throw new TandemError('device_unsupported', `${ref} cannot run on this device: ${unmetText}`);
      return decision(device, undefined, `device-only: ${deviceVariant!.name} meets every requirement${skippedText}`);
    case 'prefer-device':
      if (device) return decision(device, origin, `prefer-device: ${device.variant.name} meets every requirement${skippedText}`);
      if (!origin) throw new TandemError('device_unsupported', `${ref} cannot run on this device and has no origin variant: ${unmetText}`);
      return decision(origin, undefined, `prefer-device: the device does not fit (${unmetText})`);
    case 'prefer-origin':
      if (origin) {
        const why = device ? 'the device variant fits and is the fallback' : `no device fallback (${unmetText})`;
        return decision(origin, device, `prefer-origin: ${why}`);
      }
      if (device) return decision(device, undefined, 'prefer-origin: the manifest has no origin variant; the device fits');
      throw new TandemError('device_unsupported', `${ref} has no origin variant and cannot run on this device: ${unmetText}`);
    case 'origin-only':
      if (!origin) throw new TandemError('model_not_found', `${ref} has no origin-tier variant`);
      return decision(origin, undefined, 'origin-only');
    default:
      throw new TandemError('bad_request', `unknown placement mode ${JSON.stringify(mode satisfies never)}`);
  }
}

/**
 * The first device variant, in the manifest's order (best first), whose requirements the device meets:
 * an fp16 variant where the WebGPU adapter has `shader-f16`, else int8 for WASM, else fp32. The ones passed
 * over are named with why. When none fits, the unmet requirements of each are returned. With `only`, that
 * variant alone is considered.
 * @throws TandemError `bad_request` when `only` names no device variant of the manifest.
 */
export function chooseDeviceVariant(
  manifest: Manifest,
  caps: DeviceCapabilities,
  only?: string,
): { variant: ManifestVariant | undefined; fit: DeviceFit; skipped: string[] } {
  const devices = manifest.variants.filter((v) => v.tier === 'device');
  const candidates = only === undefined ? devices : devices.filter((v) => v.name === only);
  if (only !== undefined && candidates.length === 0) {
    const names = devices.map((v) => v.name).join(', ') || 'none';
    throw new TandemError('bad_request', `${manifest.id}@${manifest.version} has no device variant ${JSON.stringify(only)} (its device variants: ${names})`);
  }
  if (candidates.length === 0)
    return { variant: undefined, fit: { fits: false, backends: [], unmet: ['variants: the manifest has no device-tier variant'] }, skipped: [] };
  const skipped: string[] = [];
  const misses: DeviceFit[] = [];
  for (const variant of candidates) {
    const fit = deviceFit(variant, caps);
    if (fit.fits) return { variant, fit, skipped };
    skipped.push(`${variant.name}: ${fit.unmet.join(', ')}`);
    misses.push(fit);
  }
  // None fits: report each variant's misses (by name when there are several).
  const unmet = candidates.length === 1 ? misses[0]!.unmet : candidates.flatMap((v, i) => misses[i]!.unmet.map((u) => `${v.name} ${u}`));
  return { variant: candidates[0], fit: { fits: false, backends: [], unmet }, skipped: [] };
}

/** A placement mode, checked (configuration is rejected at start, not at first use). */
export function parsePlacementMode(value: unknown): PlacementMode {
  if (typeof value === 'string' && (PLACEMENT_MODES as readonly string[]).includes(value)) return value as PlacementMode;
  throw new TandemError('bad_request', `placement must be one of ${PLACEMENT_MODES.join(', ')}, got ${JSON.stringify(value)}`);
}
