/**
 * Which stored artifact objects have been hashed and found to match their name, and which have not. An
 * artifact is named by its SHA-256 (`artifacts/<sha256>`), but R2 holds whatever was uploaded there: a
 * bad upload or swapped bytes must never be served as a success, nor cached for a year under an
 * immutable name. So a verdict is kept per object *upload* (R2's `version`, unique per write, unlike
 * the etag, an MD5 an attacker can collide): swapped or repaired bytes are a new upload and are hashed
 * again.
 *
 * Verdicts live in this isolate (bounded) and, for matches, in a small marker object beside the
 * artifact (`_edge/verified/<sha256>`), so a Range request in a fresh isolate needs no whole read of a
 * file another isolate already hashed. The marker trusts whoever can write the bucket, as the artifact
 * itself does; clients verify every artifact's hash against the signed manifest anyway.
 */
/** Outside `artifacts/`, and not a model id (ids start with a letter or digit). */
export const VERIFIED_PREFIX = '_edge/verified/';

/** The marker of an artifact that hashed to its name. */
export function verifiedMarkerKey(sha256: string): string {
  return `${VERIFIED_PREFIX}${sha256}`;
}

interface Marker {
  /** R2 `version` of the artifact upload that was hashed. */
  version: string;
  verified_at: string;
}

export type Verdict = { kind: 'verified' } | { kind: 'corrupt'; actual: string };

/** The part of R2 used here. */
export interface MarkerStore {
  get(key: string): Promise<{ text(): Promise<string> } | null>;
  put(key: string, value: string): Promise<unknown>;
}

/** One isolate's verdicts. */
export class ArtifactChecks {
  private readonly verdicts = new Map<string, Verdict>();

  constructor(private readonly maxEntries = 4096) {}

  /** This isolate's verdict on one upload, if it has one. */
  known(sha256: string, version: string): Verdict | undefined {
    return this.verdicts.get(`${sha256}@${version}`);
  }

  /** The verdict of this isolate, else a match recorded by a marker (a marker never records a mismatch). */
  async verdict(store: MarkerStore, sha256: string, version: string): Promise<Verdict | undefined> {
    const local = this.known(sha256, version);
    if (local) return local;
    const marker = await readMarker(store, sha256);
    if (marker?.version !== version) return undefined;
    this.remember(sha256, version, { kind: 'verified' });
    return { kind: 'verified' };
  }

  /** Records a match here and in the marker (the returned promise is for `waitUntil`). */
  verified(store: MarkerStore, sha256: string, version: string, now: number): Promise<void> {
    this.remember(sha256, version, { kind: 'verified' });
    const marker: Marker = { version, verified_at: new Date(now).toISOString() };
    return store.put(verifiedMarkerKey(sha256), JSON.stringify(marker)).then(
      () => undefined,
      (err: unknown) => console.warn(JSON.stringify({ event: 'artifact_marker_unwritable', sha256, message: String(err) })),
    );
  }

  /** Records a mismatch (this isolate only: the next upload is hashed afresh anyway). */
  corrupt(sha256: string, version: string, actual: string): void {
    this.remember(sha256, version, { kind: 'corrupt', actual });
  }

  private remember(sha256: string, version: string, verdict: Verdict): void {
    const key = `${sha256}@${version}`;
    this.verdicts.delete(key);
    this.verdicts.set(key, verdict);
    while (this.verdicts.size > this.maxEntries) {
      const oldest = this.verdicts.keys().next().value;
      if (oldest === undefined) break;
      this.verdicts.delete(oldest);
    }
  }
}

async function readMarker(store: MarkerStore, sha256: string): Promise<Marker | undefined> {
  try {
    const object = await store.get(verifiedMarkerKey(sha256));
    if (!object) return undefined;
    const value = JSON.parse(await object.text()) as Partial<Marker>;
    return typeof value.version === 'string' ? { version: value.version, verified_at: String(value.verified_at) } : undefined;
  } catch {
    return undefined; // An unreadable marker is no marker: the artifact is hashed again.
  }
}
