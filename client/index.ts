/**
 * Tandem's client SDK (`@tandem-ml/client`): run models on the user's device when it can, on the origin
 * when it must. Re-exports only.
 */
export { createTandem } from './tandem.ts';
export type { LoadOptions, Tandem, TandemDeps, TandemStats } from './tandem.ts';
export type { TandemConfig } from './config.ts';
export type { CacheMode, RunMeta, RunOptions, RunResult, TandemModel } from './model.ts';
export type { InputMap, TensorInput } from './inputs.ts';
export type { VersionFallback } from './origin-client.ts';
export type { DeviceCapabilities, WebGpuCapabilities } from './core/capabilities.ts';
export type { DeviceBackend, PlacementDecision, PlacementMode, PlacementOptions } from './core/placement.ts';
export { decidePlacement } from './core/placement.ts';
export type { KeyValueStore } from './core/store.ts';
export { memoryStore } from './core/store.ts';
export type { BackendAttempt, DeviceRuntime, LoadProgress, RestartableRuntime } from './runtime/contract.ts';
export { TandemError } from '../protocol/errors.ts';
export type { ErrorCode } from '../protocol/errors.ts';
export type { TensorDtype } from '../protocol/tensor.ts';
export type { Tensor, TensorConstructor, ValueMetadata } from './ort-tensor.ts';
export type { ExecutionProvider } from './core/backend-preference.ts';
