/**
 * API keys: the edge holds only their SHA-256 hashes (the `API_KEYS` secret), so a leaked config leaks no
 * key. A presented key is hashed and compared against every record in constant time; an isolate
 * remembers the keys it verified for a while (`VerifiedKeyCache`).
 *
 * `API_KEYS` is a JSON array of records, or a comma list of hex hashes (all default scopes):
 * ```json
 * [{ "name": "web", "sha256": "<hex>", "scopes": ["infer", "catalog"], "models": ["mlp-classifier"],
 *    "ratePerSecond": 50, "burst": 100 }]
 * ```
 */
import { parseBearer } from '../../protocol/bearer-token.ts';
import { TandemError } from '../../protocol/errors.ts';
import { sha256Hex, timingSafeEqual } from '../../protocol/sha256.ts';

export const SCOPES = ['infer', 'catalog', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];
const DEFAULT_SCOPES: readonly Scope[] = ['infer', 'catalog'];

export interface ApiKeyRecord {
  name: string;
  sha256: string;
  scopes: readonly Scope[];
  /** Models this key may run; absent means all. */
  models?: readonly string[];
  ratePerSecond?: number;
  burst?: number;
}

const HEX64 = /^[0-9a-f]{64}$/;
const encoder = new TextEncoder();

export function parseApiKeys(text: string): ApiKeyRecord[] {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[')) {
    return trimmed
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((sha256, i) => record({ name: `key-${i}`, sha256 }));
  }
  const list: unknown = JSON.parse(trimmed);
  if (!Array.isArray(list)) throw new Error('must be a JSON array');
  return list.map(record);
}

function record(value: unknown): ApiKeyRecord {
  const v = value as Partial<ApiKeyRecord> | null;
  if (typeof v !== 'object' || v === null) throw new Error('a key record must be an object');
  if (typeof v.sha256 !== 'string' || !HEX64.test(v.sha256)) throw new Error('"sha256" must be 64 lowercase hex digits');
  const name = typeof v.name === 'string' ? v.name : v.sha256.slice(0, 8);
  const scopes = v.scopes ?? DEFAULT_SCOPES;
  if (!Array.isArray(scopes) || !scopes.every((s) => (SCOPES as readonly string[]).includes(s))) {
    throw new Error(`key ${name}: "scopes" must list some of ${SCOPES.join(', ')}`);
  }
  if (v.models !== undefined && (!Array.isArray(v.models) || !v.models.every((m) => typeof m === 'string'))) {
    throw new Error(`key ${name}: "models" must be an array of model ids`);
  }
  for (const field of ['ratePerSecond', 'burst'] as const) {
    const n = v[field];
    if (n !== undefined && (typeof n !== 'number' || !(n > 0))) throw new Error(`key ${name}: "${field}" must be a positive number`);
  }
  return {
    name,
    sha256: v.sha256,
    scopes,
    ...(v.models ? { models: v.models } : {}),
    ...(v.ratePerSecond ? { ratePerSecond: v.ratePerSecond } : {}),
    ...(v.burst ? { burst: v.burst } : {}),
  };
}

/** The hex SHA-256 under which a key is stored. */
export function hashApiKey(key: string): Promise<string> {
  return sha256Hex(encoder.encode(key));
}

/**
 * The record whose hash matches the presented key, or undefined. Every record is compared, each in
 * constant time, so timing reveals neither which record matched nor how much of a hash did.
 */
export async function findApiKey(presented: string, keys: readonly ApiKeyRecord[]): Promise<ApiKeyRecord | undefined> {
  const hash = encoder.encode(await hashApiKey(presented));
  let found: ApiKeyRecord | undefined;
  for (const key of keys) {
    if (timingSafeEqual(hash, encoder.encode(key.sha256)) && found === undefined) found = key;
  }
  return found;
}

/**
 * Verified keys remembered by one isolate for `ttlMs`, so a key seen again skips the SHA-256 (about
 * 0.3 ms a request under workerd). Only matches are kept: an unknown key is hashed and compared in
 * constant time every time, so the cache holds no attacker-chosen strings and a miss teaches nothing.
 * A lookup that hits reveals only that this exact key is valid, which its answer says anyway. One cache
 * serves one key list (one parsed `API_KEYS`), so a changed list starts afresh.
 * @example
 * const cache = new VerifiedKeyCache(keys, 60_000);
 * const record = await cache.find(presented, Date.now());
 */
export class VerifiedKeyCache {
  private readonly entries = new Map<string, { key: ApiKeyRecord; expiresAt: number }>();

  constructor(
    private readonly keys: readonly ApiKeyRecord[],
    private readonly ttlMs: number,
    private readonly maxEntries = 1024,
  ) {}

  async find(presented: string, now: number): Promise<ApiKeyRecord | undefined> {
    const hit = this.entries.get(presented);
    if (hit && hit.expiresAt > now) return hit.key;
    if (hit) this.entries.delete(presented);
    const key = await findApiKey(presented, this.keys);
    if (key && this.ttlMs > 0) {
      this.entries.set(presented, { key, expiresAt: now + this.ttlMs });
      while (this.entries.size > this.maxEntries) {
        const oldest = this.entries.keys().next().value;
        if (oldest === undefined) break;
        this.entries.delete(oldest);
      }
    }
    return key;
  }
}

/**
 * The key from `Authorization: Bearer <key>` (read as the origin reads its tokens: protocol/bearer-token.ts)
 * or `x-api-key`. A malformed `Authorization` header presents no key.
 */
export function presentedKey(headers: Headers): string | undefined {
  const auth = headers.get('authorization');
  if (auth) return parseBearer(auth);
  return headers.get('x-api-key') ?? undefined;
}

/** Whether `key` may use `model`: a key that lists `models` may use those alone. */
export function keyAllowsModel(key: ApiKeyRecord, model: string): boolean {
  return !key.models || key.models.includes(model);
}

/** @throws TandemError `forbidden` when the key lacks the scope, or the model is not among its models. */
export function authorize(key: ApiKeyRecord, scope: Scope, model?: string): void {
  if (!key.scopes.includes(scope)) throw new TandemError('forbidden', `API key "${key.name}" lacks the "${scope}" scope`);
  if (model !== undefined && !keyAllowsModel(key, model)) {
    throw new TandemError('forbidden', `API key "${key.name}" may not use model "${model}"`);
  }
}
