/**
 * What this isolate refused to serve from R2, for operators: manifests that failed verification (and
 * were skipped for an older valid version, or answered 422) and artifacts whose bytes do not hash to
 * their name. Each refusal is also logged once per request as a JSON line; this record is what
 * `GET /v1/edge/status` shows (`refused`), so a bad upload is visible without searching logs. An object
 * that later verifies (re-uploaded, keys changed) leaves the record. Bounded; per isolate, like the pool.
 */

export interface Refusal {
  /** The R2 key refused. */
  key: string;
  kind: 'manifest' | 'artifact';
  model?: string;
  version?: string;
  sha256?: string;
  code: string;
  reason: string;
  /** What was served instead (a manifest's fallback version), when anything was. */
  served_instead?: string;
  first_seen: string;
  last_seen: string;
  count: number;
}

export type RefusalInput = Omit<Refusal, 'first_seen' | 'last_seen' | 'count'>;

export class RefusalLog {
  private readonly entries = new Map<string, Refusal>();

  constructor(private readonly maxEntries = 128) {}

  record(input: RefusalInput, now: number): void {
    const at = new Date(now).toISOString();
    const previous = this.entries.get(input.key);
    this.entries.delete(input.key);
    this.entries.set(input.key, { ...input, first_seen: previous?.first_seen ?? at, last_seen: at, count: (previous?.count ?? 0) + 1 });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  /** The object verified after all: it leaves the record. */
  clear(key: string): void {
    this.entries.delete(key);
  }

  /** Newest first. */
  list(): Refusal[] {
    return [...this.entries.values()].reverse();
  }
}

/** This isolate's record (routes write it, the status route reads it). */
export const refusals = new RefusalLog();
