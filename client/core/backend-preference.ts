/**
 * An app's backend preference, in onnxruntime-web's words: `executionProviders: ['wasm']` (names or
 * `{ name }` objects, best first), as an `InferenceSession.create` option has it. A backend left out is
 * one the device is treated as not having, so placement picks a variant for the ones left (an fp16
 * variant that needs WebGPU is passed over under `['wasm']`) and says why; the order is the order tried.
 */
import { TandemError } from '../../protocol/errors.ts';
import type { DeviceCapabilities } from './capabilities.ts';
import type { DeviceBackend, PlacementDecision } from './placement.ts';

/** A backend as onnxruntime-web's `executionProviders` names it. */
export type ExecutionProvider = DeviceBackend | { readonly name: DeviceBackend };

const DEVICE_BACKENDS: readonly DeviceBackend[] = ['webgpu', 'wasm'];

/**
 * @throws TandemError `bad_request` for anything but a non-empty list of `webgpu` and `wasm` (names or `{ name }`).
 * @example
 * parseExecutionProviders(['webgpu', { name: 'wasm' }]); // ['webgpu', 'wasm']
 */
export function parseExecutionProviders(value: unknown): DeviceBackend[] | undefined {
  if (value === undefined) return undefined;
  const names = Array.isArray(value) ? value.map((p: unknown) => (typeof p === 'object' && p !== null ? (p as { name?: unknown }).name : p)) : undefined;
  if (!names || names.length === 0 || !names.every((n): n is DeviceBackend => DEVICE_BACKENDS.includes(n as DeviceBackend)))
    throw new TandemError('bad_request', `executionProviders must be a non-empty list of 'webgpu' and 'wasm', got ${JSON.stringify(value)}`);
  return [...new Set(names)];
}

/**
 * The capabilities as placement should see them under a preference: backends left out are unavailable.
 * @example
 * decidePlacement(manifest, withBackendPreference(caps, ['wasm']), mode);
 */
export function withBackendPreference(caps: DeviceCapabilities, preferred: readonly DeviceBackend[] | undefined): DeviceCapabilities {
  if (!preferred) return caps;
  return {
    ...caps,
    webgpu: preferred.includes('webgpu') ? caps.webgpu : { available: false, reason: 'not in executionProviders' },
    wasm: preferred.includes('wasm') && caps.wasm,
  };
}

/**
 * The decision with its device backends (and its fallback's) in the preferred order.
 * @example
 * orderBackends(decision, ['wasm', 'webgpu']).backends; // ['wasm', 'webgpu'] where the variant allows both
 */
export function orderBackends(decision: PlacementDecision, preferred: readonly DeviceBackend[] | undefined): PlacementDecision {
  if (!preferred) return decision;
  const order = (backends: DeviceBackend[]) => preferred.filter((b) => backends.includes(b));
  return {
    ...decision,
    backends: order(decision.backends),
    ...(decision.fallback ? { fallback: { ...decision.fallback, backends: order(decision.fallback.backends) } } : {}),
  };
}
