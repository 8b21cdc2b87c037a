/**
 * Type tests of the SDK's public API, as `@tandem-ml/client` exports it (./index.ts). They run when
 * `npm test` type-checks (`tsc -b`), before any test: a change to a public type that breaks an app fails
 * there. Shapes are pinned exactly, so an addition fails too: add it here on purpose; a failure that needs
 * an existing line changed is a breaking change (a new major version).
 */
import { Tensor as OrtTensor } from 'onnxruntime-common';
import type * as ortWeb from 'onnxruntime-web';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as sdk from './index.ts';
import type {
  BackendAttempt,
  CacheMode,
  DeviceBackend,
  DeviceCapabilities,
  ErrorCode,
  ExecutionProvider,
  InputMap,
  KeyValueStore,
  LoadOptions,
  LoadProgress,
  PlacementDecision,
  PlacementMode,
  PlacementOptions,
  RunOptions,
  RunResult,
  Tandem,
  TandemConfig,
  TandemDeps,
  TandemModel,
  TandemStats,
  Tensor,
  TensorConstructor,
  TensorDtype,
  ValueMetadata,
} from './index.ts';

describe('the public API', () => {
  it('exports these values and no others', () => {
    expect(Object.keys(sdk).sort()).toEqual(['TandemError', 'createTandem', 'decidePlacement', 'memoryStore']);
  });

  it('createTandem(config, deps?) → Tandem', () => {
    expectTypeOf(sdk.createTandem).parameters.toEqualTypeOf<[config: TandemConfig, deps?: TandemDeps]>();
    expectTypeOf(sdk.createTandem).returns.toEqualTypeOf<Tandem>();
  });

  it('TandemConfig: edge required, and publicKeys or rootKeys (checked at createTandem); every other field optional', () => {
    expectTypeOf<TandemConfig>().toEqualTypeOf<{
      edge: string;
      publicKeys?: unknown;
      rootKeys?: unknown;
      offlineMaxAgeMs?: number;
      apiKey?: string;
      clientId?: string;
      placement?: PlacementMode;
      resultTtlMs?: number;
      retry?: Partial<{ attempts: number; baseDelayMs: number; maxDelayMs: number }>;
      breaker?: Partial<{ failureThreshold: number; cooldownMs: number }>;
      requestTimeoutMs?: number;
      wasmPaths?: string;
      capabilities?: Partial<DeviceCapabilities>;
      persistStorage?: boolean;
      maxLoadedModels?: number;
      telemetry?: boolean | Partial<{ maxBatch: number; maxQueue: number; flushIntervalMs: number }>;
      memoryBudgetBytes?: number;
      microBatch?: boolean | Partial<{ maxBatch: number; maxDelayMs: number }>;
      resultCacheMaxEntries?: number;
      resultCacheMaxBytes?: number;
    }>();
    // What the README's snippet passes.
    expectTypeOf({ edge: 'https://ml.example.com', publicKeys: [] as unknown[], apiKey: 'k' }).toExtend<TandemConfig>();
    expectTypeOf({ edge: 'https://ml.example.com', rootKeys: { keys: [] as unknown[], threshold: 1 }, apiKey: 'k' }).toExtend<TandemConfig>();
  });

  it('Tandem: load, capabilities, clearCaches, stats, isCached, delete, dispose', () => {
    expectTypeOf<keyof Tandem>().toEqualTypeOf<'load' | 'capabilities' | 'clearCaches' | 'stats' | 'isCached' | 'delete' | 'dispose'>();
    expectTypeOf<Tandem['isCached']>().toEqualTypeOf<(id: string, options?: { version?: string }) => Promise<boolean>>();
    expectTypeOf<Tandem['delete']>().toEqualTypeOf<(id: string, options?: { version?: string }) => Promise<void>>();
    expectTypeOf<Tandem['load']>().toEqualTypeOf<(id: string, options?: LoadOptions) => Promise<TandemModel>>();
    expectTypeOf<Tandem['capabilities']>().toEqualTypeOf<() => Promise<DeviceCapabilities>>();
    expectTypeOf<Tandem['clearCaches']>().toEqualTypeOf<() => Promise<void>>();
    expectTypeOf<Tandem['stats']>().toEqualTypeOf<() => Promise<TandemStats>>();
    expectTypeOf<Tandem['dispose']>().toEqualTypeOf<() => Promise<void>>();
    expectTypeOf<LoadOptions>().toEqualTypeOf<{
      placement?: PlacementMode;
      signal?: AbortSignal;
      onProgress?: (progress: LoadProgress) => void;
      variant?: string;
      version?: string;
      executionProviders?: readonly ExecutionProvider[];
      waitForDevice?: boolean;
    }>();
    expectTypeOf<ExecutionProvider>().toEqualTypeOf<'webgpu' | 'wasm' | { readonly name: 'webgpu' | 'wasm' }>();
    // What onnxruntime-web's session options take, unchanged.
    expectTypeOf({ executionProviders: ['webgpu', 'wasm'] as ('webgpu' | 'wasm')[] }).toExtend<LoadOptions>();
    expectTypeOf({ executionProviders: [{ name: 'wasm' as const }] }).toExtend<LoadOptions>();
    expectTypeOf<LoadProgress>().toEqualTypeOf<{ phase: 'download' | 'verify' | 'session'; loaded: number; total: number }>();
    expectTypeOf<TandemStats>().toEqualTypeOf<{
      network: { manifest: number; artifact: number; infer: number; other: number };
      results: { hits: number; staleHits: number; misses: number };
      modelCache: { hits: number; misses: number };
      persisted: boolean | undefined;
      memory: { sessions: number; sessionBytes: number; budgetBytes: number; peakSessions: number; resultEntries: number; resultBytes: number };
      batching: { runs: number; callers: number };
    }>();
  });

  it('TandemModel: its identity, placement, device session, run and dispose', () => {
    expectTypeOf<keyof TandemModel>().toEqualTypeOf<
      | 'id'
      | 'version'
      | 'manifest'
      | 'placement'
      | 'manifestSource'
      | 'device'
      | 'inputNames'
      | 'outputNames'
      | 'inputMetadata'
      | 'outputMetadata'
      | 'run'
      | 'dispose'
    >();
    // An InferenceSession's signature members, with its types.
    expectTypeOf<TandemModel['inputNames']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<TandemModel['outputNames']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<TandemModel['inputMetadata']>().toEqualTypeOf<readonly ValueMetadata[]>();
    expectTypeOf<TandemModel['inputNames']>().toEqualTypeOf<ortWeb.InferenceSession['inputNames']>();
    expectTypeOf<TandemModel['inputMetadata']>().toEqualTypeOf<ortWeb.InferenceSession['inputMetadata']>();
    expectTypeOf<TandemModel['outputMetadata']>().toEqualTypeOf<ortWeb.InferenceSession['outputMetadata']>();
    expectTypeOf<TandemModel['id']>().toEqualTypeOf<string>();
    expectTypeOf<TandemModel['version']>().toEqualTypeOf<string>();
    expectTypeOf<TandemModel['placement']>().toEqualTypeOf<PlacementDecision>();
    expectTypeOf<TandemModel['manifestSource']>().toEqualTypeOf<'network' | 'cache'>();
    expectTypeOf<TandemModel['device']>().toEqualTypeOf<{ backend: DeviceBackend; attempts: BackendAttempt[]; fromCache: boolean } | undefined>();
    expectTypeOf<TandemModel['run']>().toEqualTypeOf<(inputs: InputMap, options?: RunOptions) => Promise<RunResult>>();
    expectTypeOf<TandemModel['dispose']>().toEqualTypeOf<() => Promise<void>>();
    // The manifest fields the README's snippet reads.
    expectTypeOf<TandemModel['manifest']['classLabels']>().toEqualTypeOf<string[] | undefined>();
    expectTypeOf<TandemModel['manifest']['id']>().toEqualTypeOf<string>();
  });

  it('run: inputs, options, and a result that says where it ran', () => {
    expectTypeOf<RunOptions>().toEqualTypeOf<{ signal?: AbortSignal; cache?: CacheMode; outputs?: string[]; traceparent?: string }>();
    expectTypeOf<CacheMode>().toEqualTypeOf<'default' | 'no-store' | 'only-if-cached'>();
    expectTypeOf<RunResult>().toEqualTypeOf<{
      outputs: Record<string, Tensor>;
      ranOn: 'device' | 'origin' | 'cache';
      backend: DeviceBackend | undefined;
      version: string;
      stale: boolean;
      timings: { totalMs: number; computeMs?: number };
      fallback?: { from: 'device' | 'origin'; code: string; message: string };
      traceId: string;
      versionFallback?: { requested: string; served: string; reason: 'version_not_on_origin' };
    }>();
    // Outputs are onnxruntime-web's Tensor type (onnxruntime-common's, which onnxruntime-web re-exports).
    expectTypeOf<Tensor>().toEqualTypeOf<ortWeb.Tensor>();
    expectTypeOf<RunResult['outputs']>().toEqualTypeOf<Record<string, ortWeb.Tensor>>();
    expectTypeOf<RunResult['outputs'][string]['data']>().toEqualTypeOf<ortWeb.Tensor.DataType>();
    // The input forms: onnxruntime-web's Tensor (instance, or plain), our tensors, a typed array with dims.
    expectTypeOf(new OrtTensor('float32', new Float32Array(256), [1, 256])).toExtend<sdk.TensorInput>();
    expectTypeOf({ x: new OrtTensor('int64', new BigInt64Array(1), [1]) }).toExtend<InputMap>();
    expectTypeOf({ x: { data: new Float32Array(256), dims: [1, 256] } }).toExtend<InputMap>();
    expectTypeOf({ x: { dtype: 'int64' as const, dims: [1], data: new BigInt64Array(1) } }).toExtend<InputMap>();
    expectTypeOf({ x: { type: 'float32', dims: [1, 256] as readonly number[], data: new Float32Array(256) as unknown } }).toExtend<InputMap>();
  });

  it('the unions apps switch on', () => {
    expectTypeOf<PlacementMode>().toEqualTypeOf<'prefer-device' | 'device-only' | 'prefer-origin' | 'origin-only'>();
    expectTypeOf<DeviceBackend>().toEqualTypeOf<'webgpu' | 'wasm'>();
    expectTypeOf<TensorDtype>().toEqualTypeOf<
      'float32' | 'float16' | 'float64' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'bool' | 'string'
    >();
    // Codes are only ever added: the ones the README tells apps to branch on stay.
    expectTypeOf<
      'offline' | 'manifest_signature_invalid' | 'artifact_hash_mismatch' | 'device_unsupported' | 'origin_unavailable' | 'aborted'
    >().toExtend<ErrorCode>();
  });

  it('TandemError: a class apps narrow with instanceof, with a stable code', () => {
    const err: unknown = new sdk.TandemError('offline', 'no network');
    if (err instanceof sdk.TandemError) expectTypeOf(err.code).toEqualTypeOf<ErrorCode>();
    expectTypeOf<sdk.TandemError>().toExtend<Error>();
    expectTypeOf<sdk.TandemError['retryAfterSeconds']>().toEqualTypeOf<number | undefined>();
    expectTypeOf(sdk.TandemError).constructorParameters.toEqualTypeOf<
      [code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterSeconds?: number; requestId?: string; attempts?: number }]
    >();
  });

  it('the stores an app may pass, and the helpers', () => {
    expectTypeOf<KeyValueStore<string>>().toEqualTypeOf<{
      get(key: string): Promise<string | undefined>;
      set(key: string, value: string): Promise<void>;
      delete(key: string): Promise<void>;
      keys(): Promise<string[]>;
      clear(): Promise<void>;
    }>();
    expectTypeOf(sdk.memoryStore<number>()).toExtend<KeyValueStore<number>>();
    expectTypeOf(sdk.decidePlacement).returns.toEqualTypeOf<PlacementDecision>();
    expectTypeOf(sdk.decidePlacement).parameter(3).toEqualTypeOf<PlacementOptions | undefined>();
    expectTypeOf<PlacementOptions>().toEqualTypeOf<{ variant?: string }>();
    expectTypeOf<TandemDeps['clientIdStore']>().toEqualTypeOf<KeyValueStore<string> | undefined>();
    expectTypeOf<TandemDeps['trustStore']>().toEqualTypeOf<KeyValueStore<unknown> | undefined>();
    // The app's own onnxruntime-web Tensor class, for `instanceof ort.Tensor`.
    expectTypeOf<TandemDeps['Tensor']>().toEqualTypeOf<TensorConstructor | undefined>();
    expectTypeOf<typeof ortWeb.Tensor>().toExtend<TensorConstructor>();
  });
});
