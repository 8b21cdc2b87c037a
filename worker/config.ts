/**
 * The edge's configuration: every var and secret of `Env`, parsed and checked once per isolate, with each
 * default stated here. A bad value fails every request with a clear `internal` error naming the var,
 * rather than half-working.
 */
import { TandemError } from '../protocol/errors.ts';
import { loadTrustedKeys, type TrustedKeySet } from '../protocol/keys.ts';
import { parseApiKeys, type ApiKeyRecord } from './auth/api-keys.ts';
import { parseCanary, type CanaryConfig } from './version-choice/canary.ts';

/** Timeouts, retries, breaker, readiness and limits (the `TUNING` var overrides any field). */
export interface Tuning {
  /** Per attempt to one origin. Default 5000. */
  attemptTimeoutMs: number;
  /** Whole request, all attempts and backoffs together. Default 15000. */
  deadlineMs: number;
  /** Attempts per request, across origins. Default 3. */
  maxAttempts: number;
  /** Exponential backoff with full jitter between attempts: base and cap. Defaults 10 and 200. */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** Consecutive failures that open an origin's breaker. Default 3. */
  breakerFailureThreshold: number;
  /** How long an open breaker waits before letting one probe through (half-open). Default 5000. */
  breakerCooldownMs: number;
  /**
   * While an origin's breaker is open, how often its readiness is probed (from requests, in the
   * background, the first probe one interval after it opened); a ready answer lets one request through
   * at once instead of after the cooldown. Default 250.
   */
  breakerProbeIntervalMs: number;
  /** How old an origin's readiness check may get before another is started in the background. Default 5000. */
  readinessTtlMs: number;
  /** Timeout of one readiness check. Default 1000. */
  readinessTimeoutMs: number;
  /** Largest inference request body. Default 64 MiB (the origin's own default). */
  maxBodyBytes: number;
  /** Token bucket for keys that don't set their own: tokens per second and burst. Defaults 100 and 200. */
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /**
   * Tokens an isolate first takes from a key's bucket at once and spends without asking its Durable Object
   * again (rate-limit/rate-lease.ts); an isolate that spends them before `rateLimitLeaseMs` runs out asks for
   * twice as many next time, up to what the key earns in `rateLimitLeaseMs`. Default 10; 1 asks on every request.
   */
  rateLimitLeaseTokens: number;
  /** How long leased tokens may be spent before they are dropped. Default 1000; 0 asks on every request. */
  rateLimitLeaseMs: number;
  /**
   * How long an isolate remembers a verified API key, skipping its SHA-256 (auth/api-keys.ts). Default 60000;
   * 0 hashes every request. A changed `API_KEYS` starts afresh at once.
   */
  apiKeyCacheTtlMs: number;
  /**
   * Unknown API keys one client address may present before it is refused with 429 for any key
   * (auth/failed-keys.ts), and how long that allowance takes to refill. Defaults 20 and 60000.
   */
  authFailureLimit: number;
  authFailureWindowMs: number;
  /** Cache-Control max-age of manifests and the catalog. Default 60. */
  manifestMaxAgeSeconds: number;
  /** How old an isolate's copy of the stored origin list override (origin-pool/origin-list.ts) may get. Default 5000. */
  originListTtlMs: number;
  /**
   * How old an isolate's verified update metadata (storage/trust-metadata.ts: root chain, timestamp record)
   * may get before R2 is read again: how long a revocation takes to reach every isolate. Default 5000.
   */
  trustTtlMs: number;
  /** Deadline of one R2 read of update metadata (slow retrieval); past it the last good record stays. Default 2000. */
  trustReadTimeoutMs: number;
}

export const DEFAULT_TUNING: Readonly<Tuning> = {
  attemptTimeoutMs: 5000,
  deadlineMs: 15000,
  maxAttempts: 3,
  backoffBaseMs: 10,
  backoffCapMs: 200,
  breakerFailureThreshold: 3,
  breakerCooldownMs: 5000,
  breakerProbeIntervalMs: 250,
  readinessTtlMs: 5000,
  readinessTimeoutMs: 1000,
  maxBodyBytes: 64 * 1024 * 1024,
  rateLimitPerSecond: 100,
  rateLimitBurst: 200,
  rateLimitLeaseTokens: 10,
  rateLimitLeaseMs: 1000,
  apiKeyCacheTtlMs: 60_000,
  authFailureLimit: 20,
  authFailureWindowMs: 60_000,
  manifestMaxAgeSeconds: 60,
  originListTtlMs: 5000,
  trustTtlMs: 5000,
  trustReadTimeoutMs: 2000,
};

export interface EdgeConfig {
  origins: string[];
  originToken: string;
  trustedKeys: TrustedKeySet;
  /**
   * The pinned root keys (`ROOT_KEYS`, same shape as `TRUSTED_KEYS`). Empty (the default): no root of
   * trust, manifests verify with `TRUSTED_KEYS`. Set: the root in R2 (`_trust/`) must verify with them, its
   * release keys verify manifests, and its timestamp record decides what is live, current and revoked.
   */
  rootKeys: TrustedKeySet;
  canary: CanaryConfig;
  apiKeys: ApiKeyRecord[];
  requireKeyForCatalog: boolean;
  tuning: Tuning;
}

/** The raw strings the config is read from (the string fields of `Env`). */
export interface ConfigSource {
  ORIGINS?: string | undefined;
  ORIGIN_TOKEN?: string | undefined;
  TRUSTED_KEYS?: string | undefined;
  ROOT_KEYS?: string | undefined;
  CANARY?: string | undefined;
  API_KEYS?: string | undefined;
  REQUIRE_KEY_FOR_CATALOG?: string | undefined;
  TUNING?: string | undefined;
}

export async function loadEdgeConfig(source: ConfigSource): Promise<EdgeConfig> {
  return {
    origins: parseOrigins(source.ORIGINS ?? '[]'),
    originToken: source.ORIGIN_TOKEN ?? '',
    trustedKeys: await within('TRUSTED_KEYS', () => loadTrustedKeys(source.TRUSTED_KEYS ?? '[]')),
    rootKeys: await within('ROOT_KEYS', () => loadTrustedKeys(source.ROOT_KEYS ?? '[]')),
    canary: await within('CANARY', () => parseCanary(parseJson(source.CANARY ?? '{}'))),
    apiKeys: await within('API_KEYS', () => parseApiKeys(source.API_KEYS ?? '[]')),
    requireKeyForCatalog: parseBoolean('REQUIRE_KEY_FOR_CATALOG', source.REQUIRE_KEY_FOR_CATALOG ?? 'false'),
    tuning: await within('TUNING', () => parseTuning(parseJson(source.TUNING ?? '{}'))),
  };
}

/** Origins as a JSON array or a comma list of http(s) base URLs, without a trailing slash. */
export function parseOrigins(text: string): string[] {
  const trimmed = text.trim();
  const list: unknown = trimmed.startsWith('[')
    ? parseJson(trimmed)
    : trimmed
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
  if (!Array.isArray(list)) throw configError('ORIGINS', 'must be a JSON array or a comma list of URLs');
  return list.map((value) => {
    const url = typeof value === 'string' && /^https?:\/\/[^/\s]+\/?$/.test(value) ? parseUrl(value) : null;
    // No credentials in the URL (the edge's token is ORIGIN_TOKEN), and nothing a path could be appended to wrongly.
    if (url === null || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
      throw configError('ORIGINS', `${JSON.stringify(value)} is not an http(s) base URL (scheme, host and port only)`);
    }
    return url.origin;
  });
}

export function parseTuning(value: unknown): Tuning {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('must be a JSON object');
  const tuning: Tuning = { ...DEFAULT_TUNING };
  for (const [name, v] of Object.entries(value)) {
    if (!Object.hasOwn(DEFAULT_TUNING, name)) throw new Error(`unknown field "${name}"`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`"${name}" must be a non-negative number`);
    tuning[name as keyof Tuning] = v;
  }
  if (tuning.maxAttempts < 1) throw new Error('"maxAttempts" must be at least 1');
  if (tuning.rateLimitLeaseTokens < 1) throw new Error('"rateLimitLeaseTokens" must be at least 1');
  if (tuning.authFailureLimit < 1) throw new Error('"authFailureLimit" must be at least 1');
  if (tuning.authFailureWindowMs <= 0) throw new Error('"authFailureWindowMs" must be positive');
  return tuning;
}

function parseBoolean(name: string, text: string): boolean {
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0' || text === '') return false;
  throw configError(name, 'must be "true" or "false"');
}

function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new Error('is not valid JSON', { cause });
  }
}

async function within<T>(name: string, parse: () => T | Promise<T>): Promise<T> {
  try {
    return await parse();
  } catch (cause) {
    if (cause instanceof TandemError && cause.message.startsWith('edge config')) throw cause;
    throw configError(name, cause instanceof Error ? cause.message : String(cause), cause);
  }
}

function configError(name: string, message: string, cause?: unknown): TandemError {
  return new TandemError('internal', `edge config ${name}: ${message}`, cause === undefined ? {} : { cause });
}
