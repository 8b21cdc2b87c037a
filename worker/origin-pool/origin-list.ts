/**
 * The origin list at run time: the `ORIGINS` var, unless an admin has stored an override in the R2 bucket
 * (`PUT /v1/edge/origins`), so origins are added and removed without a deploy (scale out, drain one).
 *
 * R2 is strongly consistent, but each isolate reads the override at most once per `originListTtlMs`
 * (stale-while-revalidate: a request never waits on the refresh, except an isolate's very first), so a
 * change reaches every isolate within that time. The isolate that takes the PUT uses it at once.
 * Removing an origin only stops new requests to it; drain it (SIGTERM) after the TTL, and the edge's
 * retries on 503 `shutting_down` cover the overlap.
 */
import { parseOrigins } from '../config.ts';

/** The object holding the override. Model ids start with [a-z0-9], so no model version can collide. */
export const ORIGIN_LIST_KEY = '_edge/origins.json';

export interface StoredOriginList {
  origins: string[];
  updated_at: string;
  /** The name of the API key that stored it. */
  updated_by: string;
}

/** Parses and checks a stored override (or a PUT body) the way `ORIGINS` is checked. */
export function parseOriginList(value: unknown): string[] {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { origins?: unknown }).origins)) {
    throw new Error('must be a JSON object { "origins": ["https://...", ...] }');
  }
  return parseOrigins(JSON.stringify((value as { origins: unknown[] }).origins));
}

interface Cached {
  /** undefined: no override stored. */
  origins: string[] | undefined;
  fetchedAt: number;
}

/** The part of R2 used here. */
export interface OriginListStore {
  get(key: string): Promise<{ text(): Promise<string> } | null>;
  put(key: string, value: string): Promise<unknown>;
  delete(key: string): Promise<void>;
}

/** One isolate's view of the override. */
export class OriginListCache {
  private cached: Cached | undefined;
  private refreshing: Promise<void> | undefined;
  /** Bumped by every store(), so a read that started before it cannot bring the old list back. */
  private generation = 0;

  /**
   * The override, or undefined when none is stored. `waitUntil` receives a background refresh when the
   * cached value is older than `ttlMs`. A failed read keeps the last known value (or none) and logs.
   */
  async current(store: OriginListStore, ttlMs: number, now: number, waitUntil: (p: Promise<unknown>) => void): Promise<string[] | undefined> {
    if (!this.cached) {
      await this.refresh(store, now);
    } else if (now - this.cached.fetchedAt >= ttlMs && !this.refreshing) {
      waitUntil(this.refresh(store, now));
    }
    return this.cached?.origins;
  }

  /** Stores an override (or removes it, for `undefined`) and uses it in this isolate at once. */
  async store(store: OriginListStore, origins: string[] | undefined, by: string, now: number): Promise<void> {
    if (origins === undefined) {
      await store.delete(ORIGIN_LIST_KEY);
    } else {
      const record: StoredOriginList = { origins, updated_at: new Date(now).toISOString(), updated_by: by };
      await store.put(ORIGIN_LIST_KEY, JSON.stringify(record));
    }
    this.generation++;
    this.cached = { origins, fetchedAt: now };
  }

  private refresh(store: OriginListStore, now: number): Promise<void> {
    const generation = this.generation;
    this.refreshing ??= (async () => {
      let origins: string[] | undefined;
      try {
        const object = await store.get(ORIGIN_LIST_KEY);
        origins = object ? parseOriginList(JSON.parse(await object.text())) : undefined;
      } catch (err) {
        console.error(JSON.stringify({ event: 'origin_list_unreadable', key: ORIGIN_LIST_KEY, error: err instanceof Error ? err.message : String(err) }));
        origins = this.cached?.origins;
      }
      if (generation === this.generation) this.cached = { origins, fetchedAt: now };
      this.refreshing = undefined;
    })();
    return this.refreshing;
  }
}
