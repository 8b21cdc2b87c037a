/**
 * The origin's configuration: one documented object, read from environment variables (and CLI flags
 * layered on top by the caller), checked once at start so a bad value stops the server before it listens.
 *
 * | env | field | default |
 * | --- | --- | --- |
 * | TANDEM_ORIGIN_HOST | host | 127.0.0.1 |
 * | TANDEM_ORIGIN_PORT | port | 8000 |
 * | TANDEM_MODEL_REPOSITORY | repository | models/repository |
 * | TANDEM_TRUSTED_KEYS (JSON) or TANDEM_TRUSTED_KEYS_FILE | trustedKeys (when the repository has no root of trust) | .tandem/keys/trusted-keys.json |
 * | TANDEM_ROOT_KEYS (JSON) or TANDEM_ROOT_KEYS_FILE | rootKeys: the pinned root keys, when the repository has a root (`_trust/`) | .tandem/keys/root-keys.json, when it exists |
 * | TANDEM_TRUST_CHECK_MS | trustCheckMs: how often the root, the timestamp record and manifest expiries are checked again | 10000 |
 * | TANDEM_ORIGIN_TOKEN | inferenceToken | a dev token, printed at start |
 * | TANDEM_ADMIN_TOKEN | adminToken | a dev token, printed at start |
 * | TANDEM_OPEN_OBSERVABILITY | openObservability (health, metrics and model metadata without a token) | true |
 * | TANDEM_MAX_BODY_BYTES | maxBodyBytes | 64 MiB |
 * | TANDEM_MAX_ELEMENTS | maxElements (per request, all inputs) | 16 Mi |
 * | TANDEM_MAX_BATCH_SIZE | batching.maxBatchSize (rows) | 64 |
 * | TANDEM_MAX_QUEUE_DELAY_MS | batching.maxQueueDelayMs | 2 |
 * | TANDEM_MAX_QUEUE_ROWS | batching.maxQueueRows | 1024 |
 * | TANDEM_SESSION_CONCURRENCY | batching.concurrency (batches run at once per model, one session thread each) | 1 |
 * | TANDEM_BATCH_DISPATCH | batching.dispatch: `eager` runs at once when idle, `delay` always waits to fill | eager |
 * | TANDEM_INTRA_OP_THREADS | intraOpThreads (onnxruntime threads per run; 0 = one per core, `os.availableParallelism()`) | 0 |
 * | TANDEM_ORT_SPINNING | ortSpinning: let onnxruntime threads spin-wait (starves HTTP on few cores) | false |
 * | TANDEM_DRAIN_TIMEOUT_MS | drainTimeoutMs (graceful shutdown deadline) | 10000 |
 * | TANDEM_NON_FINITE | nonFinite: reject NaN/Inf inputs, or allow them | reject |
 * | TANDEM_MODEL_CONFIG (JSON) | models: per-model overrides of `batching`, by model id | {} |
 */
import { z } from 'zod';
import { TandemError } from '../protocol/errors.ts';

/** Tokens the origin falls back to when none are set (it says so at start); what the local stack uses. */
export const DEV_TOKEN = 'dev-origin-token';
export const DEV_ADMIN_TOKEN = 'dev-admin-token';

const int = (min: number) => z.coerce.number().int().min(min);

const batchingSchema = z.strictObject({
  maxBatchSize: int(1),
  maxQueueDelayMs: z.coerce.number().min(0),
  maxQueueRows: int(1),
  concurrency: int(1),
  dispatch: z.enum(['eager', 'delay']),
});

export type BatchingConfig = z.infer<typeof batchingSchema>;

const configSchema = z.strictObject({
  host: z.string().min(1),
  port: int(0).max(65535),
  repository: z.string().min(1),
  /** JSON text of the trusted key set, or undefined to read `trustedKeysFile`. */
  trustedKeys: z.string().optional(),
  trustedKeysFile: z.string().min(1),
  /** JSON text of the pinned root keys (same shape as trusted keys), or undefined to read `rootKeysFile`. */
  rootKeys: z.string().optional(),
  /** A missing file means no pinned root keys: trusted on first use with dev tokens, else the origin refuses to start. */
  rootKeysFile: z.string().min(1).optional(),
  trustCheckMs: int(10),
  inferenceToken: z.string().min(8, 'tokens must be at least 8 characters'),
  adminToken: z.string().min(8, 'tokens must be at least 8 characters'),
  openObservability: z.boolean(),
  maxBodyBytes: int(1024),
  maxElements: int(1),
  batching: batchingSchema,
  models: z.record(z.string(), batchingSchema.partial()),
  intraOpThreads: int(0),
  ortSpinning: z.boolean(),
  drainTimeoutMs: int(0),
  nonFinite: z.enum(['reject', 'allow']),
});

export type OriginConfig = z.infer<typeof configSchema>;

export interface ConfigDefaults {
  repository: string;
  trustedKeysFile: string;
  rootKeysFile?: string;
}

/** Reads the configuration from `env`, applying `overrides` (CLI flags) last. */
export function loadOriginConfig(
  env: Record<string, string | undefined>,
  defaults: ConfigDefaults,
  overrides: Partial<OriginConfig> = {},
): OriginConfig & { devTokens: boolean } {
  const raw = {
    host: env.TANDEM_ORIGIN_HOST ?? '127.0.0.1',
    port: env.TANDEM_ORIGIN_PORT ?? 8000,
    repository: env.TANDEM_MODEL_REPOSITORY ?? defaults.repository,
    trustedKeys: env.TANDEM_TRUSTED_KEYS,
    trustedKeysFile: env.TANDEM_TRUSTED_KEYS_FILE ?? defaults.trustedKeysFile,
    rootKeys: env.TANDEM_ROOT_KEYS,
    // Empty means unset (the local stack clears it for a repository without a root of trust).
    rootKeysFile: env.TANDEM_ROOT_KEYS_FILE || defaults.rootKeysFile,
    trustCheckMs: env.TANDEM_TRUST_CHECK_MS ?? 10_000,
    inferenceToken: env.TANDEM_ORIGIN_TOKEN ?? DEV_TOKEN,
    adminToken: env.TANDEM_ADMIN_TOKEN ?? DEV_ADMIN_TOKEN,
    openObservability: parseBoolean(env.TANDEM_OPEN_OBSERVABILITY, true),
    maxBodyBytes: env.TANDEM_MAX_BODY_BYTES ?? 64 * 1024 * 1024,
    maxElements: env.TANDEM_MAX_ELEMENTS ?? 16 * 1024 * 1024,
    batching: {
      maxBatchSize: env.TANDEM_MAX_BATCH_SIZE ?? 64,
      maxQueueDelayMs: env.TANDEM_MAX_QUEUE_DELAY_MS ?? 2,
      maxQueueRows: env.TANDEM_MAX_QUEUE_ROWS ?? 1024,
      concurrency: env.TANDEM_SESSION_CONCURRENCY ?? 1,
      dispatch: env.TANDEM_BATCH_DISPATCH ?? 'eager',
    },
    models: parseJson(env.TANDEM_MODEL_CONFIG, 'TANDEM_MODEL_CONFIG') ?? {},
    intraOpThreads: env.TANDEM_INTRA_OP_THREADS ?? 0,
    ortSpinning: parseBoolean(env.TANDEM_ORT_SPINNING, false),
    drainTimeoutMs: env.TANDEM_DRAIN_TIMEOUT_MS ?? 10_000,
    nonFinite: env.TANDEM_NON_FINITE ?? 'reject',
    ...overrides,
  };
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new TandemError('bad_request', `invalid origin configuration: ${problems}`);
  }
  const devTokens = result.data.inferenceToken === DEV_TOKEN || result.data.adminToken === DEV_ADMIN_TOKEN;
  return { ...result.data, devTokens };
}

/** The batching settings for one model: the global ones with the model's overrides. */
export function batchingFor(config: Pick<OriginConfig, 'batching' | 'models'>, modelId: string): BatchingConfig {
  return { ...config.batching, ...config.models[modelId] };
}

function parseBoolean(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new TandemError('bad_request', `invalid origin configuration: expected a boolean, got "${value}"`);
}

function parseJson(value: string | undefined, name: string): unknown {
  if (value === undefined || value === '') return undefined;
  try {
    return JSON.parse(value);
  } catch (cause) {
    throw new TandemError('bad_request', `invalid origin configuration: ${name} is not JSON`, { cause });
  }
}
