/**
 * Weighted canary between model versions, sticky per client: a client id hashes (with the model id, so a
 * client's buckets differ between models) to a bucket in [0, 10000), and the cumulative weights cut that
 * range into versions. The same client always lands in the same version while the weights stand, and the
 * manifest route and the inference route make the same choice, so a device that downloads 1.1.0 also
 * falls back to 1.1.0 on the origin.
 */
import { hash32 } from '../../protocol/hash32.ts';
import { MODEL_ID_PATTERN, VERSION_PATTERN } from '../../protocol/manifest.ts';

export { hash32 };

/** Per model, version -> weight (any non-negative numbers; they are normalised). */
export type CanaryConfig = Readonly<Record<string, Readonly<Record<string, number>>>>;

export const BUCKETS = 10_000;

export function parseCanary(value: unknown): CanaryConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('must be a JSON object');
  const out: Record<string, Record<string, number>> = {};
  for (const [model, weights] of Object.entries(value)) {
    // Versions chosen here travel into paths and the `x-model-version` header: the manifest's own rules.
    if (!MODEL_ID_PATTERN.test(model)) throw new Error(`${JSON.stringify(model)} is not a model id`);
    if (typeof weights !== 'object' || weights === null || Array.isArray(weights)) {
      throw new Error(`"${model}" must map versions to weights`);
    }
    let total = 0;
    for (const [version, w] of Object.entries(weights)) {
      if (!VERSION_PATTERN.test(version)) throw new Error(`"${model}": ${JSON.stringify(version)} is not a semantic version`);
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new Error(`"${model}" version "${version}": weight must be >= 0`);
      total += w;
    }
    if (total <= 0) throw new Error(`"${model}": weights must not all be 0`);
    out[model] = { ...(weights as Record<string, number>) };
  }
  return out;
}

export function bucketOf(model: string, clientId: string): number {
  return hash32(`${model}\u0000${clientId}`) % BUCKETS;
}

/**
 * The version a client gets for a model, or undefined when the model has no canary (the origin's
 * current version, or the newest in storage, serves).
 * @example
 * chooseVersion({ m: { '1.0.0': 90, '1.1.0': 10 } }, 'm', 'client-42'); // '1.0.0' for about 90% of ids
 */
export function chooseVersion(canary: CanaryConfig, model: string, clientId: string): string | undefined {
  const weights = canary[model];
  if (!weights) return undefined;
  const entries = Object.entries(weights).filter(([, w]) => w > 0);
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  const point = ((bucketOf(model, clientId) + 0.5) / BUCKETS) * total;
  let cumulative = 0;
  for (const [version, w] of entries) {
    cumulative += w;
    if (point < cumulative) return version;
  }
  return entries.at(-1)?.[0];
}
