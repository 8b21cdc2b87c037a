/**
 * Where a model lives in a model repository, on disk (origin, build) or in an object store (edge):
 *
 *   <root>/<model id>/<version>/manifest.dsse.json   the signed manifest (DSSE envelope), the source of truth
 *   <root>/<model id>/<version>/<artifact path>      each variant's file, named by the manifest
 *
 * Keys use "/" on every platform; callers on disk join them with their path module.
 */

export const ENVELOPE_FILE = 'manifest.dsse.json';

export function versionKey(id: string, version: string): string {
  return `${id}/${version}`;
}

export function envelopeKey(id: string, version: string): string {
  return `${versionKey(id, version)}/${ENVELOPE_FILE}`;
}

export function artifactKey(id: string, version: string, artifactPath: string): string {
  return `${versionKey(id, version)}/${artifactPath}`;
}

/**
 * The update framework's metadata, beside the models (trust/): every root version, kept forever so a
 * verifier at any version can walk the chain, and the one current timestamp record. `_trust` cannot be a
 * model id (ids start with a letter or digit).
 *
 *   <root>/_trust/root/<n>.dsse.json     root version n
 *   <root>/_trust/timestamp.dsse.json    the timestamp record in force
 */
export const TRUST_PREFIX = '_trust';

export function rootKey(version: number): string {
  return `${TRUST_PREFIX}/root/${version}.dsse.json`;
}

export const TIMESTAMP_KEY = `${TRUST_PREFIX}/timestamp.dsse.json`;

/**
 * Rollout records (rollout/rollout-record.ts), one per model: which versions clients get, in what shares.
 * `_rollout` cannot be a model id either.
 *
 *   <root>/_rollout/<model id>.dsse.json   the model's rollout record in force
 */
export const ROLLOUT_PREFIX = '_rollout';

export function rolloutKey(model: string): string {
  return `${ROLLOUT_PREFIX}/${model}.dsse.json`;
}
