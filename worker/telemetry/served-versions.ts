/**
 * The model versions device telemetry is counted for: those R2 stores a manifest envelope of
 * (storage/manifests.ts `listStoredVersions`). Browser API keys ship in web apps, so anyone may post
 * records naming anything; only these versions get series in the aggregate (aggregate.ts), so made-up
 * names cannot take its bounded series from the versions the automatic rollback judges.
 *
 * Per isolate, the bucket is listed at most once per TTL (the route passes the config's `trustTtlMs`)
 * however many names the batches bring, so an unknown name costs no R2 call; batches arriving while a
 * listing runs wait for that one. A failed listing is logged and keeps the last one (before any: no version
 * is known) until the TTL runs out again: a failing R2 is not asked once per batch.
 */

/** Every stored version, by model id (the shape of `listStoredVersions`). */
export type ListStoredVersions = () => Promise<Map<string, string[]>>;

/** Whether the edge serves `model@version`. */
export type ServesVersion = (model: string, version: string) => boolean;

export class ServedVersions {
  private known = new Set<string>();
  private listedAt = Number.NEGATIVE_INFINITY;
  private listing: Promise<void> | undefined;

  /**
   * @example
   * const serves = await servedVersions.lookup(() => listStoredVersions(c.env.MODELS), tuning.trustTtlMs, Date.now());
   * serves('mlp-classifier', '1.1.0'); // true once R2 holds mlp-classifier/1.1.0/manifest.dsse.json
   */
  async lookup(list: ListStoredVersions, ttlMs: number, now: number): Promise<ServesVersion> {
    if (now - this.listedAt >= ttlMs) {
      this.listing ??= this.relist(list, now).finally(() => (this.listing = undefined));
      await this.listing;
    }
    const known = this.known;
    return (model, version) => known.has(pairKey(model, version));
  }

  /** Forgets the listing (tests). */
  reset(): void {
    this.known = new Set();
    this.listedAt = Number.NEGATIVE_INFINITY;
  }

  private async relist(list: ListStoredVersions, now: number): Promise<void> {
    try {
      const stored = await list();
      this.known = new Set([...stored].flatMap(([model, versions]) => versions.map((version) => pairKey(model, version))));
    } catch (err) {
      console.log(JSON.stringify({ event: 'served_versions_list_failed', reason: String(err), versions_kept: this.known.size }));
    }
    this.listedAt = now;
  }
}

function pairKey(model: string, version: string): string {
  return `${model}\u0000${version}`;
}

/** This isolate's listing. */
export const servedVersions = new ServedVersions();
