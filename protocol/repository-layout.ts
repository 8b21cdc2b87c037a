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
