/**
 * Tandem's client SDK (`tandem/client`): run models on the user's device when it can, on the origin when
 * it must. Re-exports only.
 */
export { createTandem } from './tandem.ts';
export type { CacheMode, LoadOptions, RunMeta, RunOptions, RunResult, Tandem, TandemConfig, TandemDeps, TandemModel, TandemStats } from './tandem.ts';
export type { InputMap, TensorInput } from './inputs.ts';
export type { DeviceCapabilities, WebGpuCapabilities } from './core/capabilities.ts';
export type { DeviceBackend, PlacementDecision, PlacementMode } from './core/placement.ts';
export { decidePlacement } from './core/placement.ts';
export type { KeyValueStore } from './core/store.ts';
export { memoryStore } from './core/store.ts';
export type { BackendAttempt, DeviceRuntime, LoadProgress, RestartableRuntime } from './runtime/contract.ts';
export { TandemError } from '../protocol/errors.ts';
export type { ErrorCode } from '../protocol/errors.ts';
export type { Tensor, TensorDtype } from '../protocol/tensor.ts';
