/**
 * Which stored version of a model to serve: the one asked for, else the client's canary version when
 * storage holds it, else the newest. The inference route makes the same canary choice (see canary.ts).
 * When the preferred version cannot be served (its envelope fails verification), the manifest route
 * walks on down `storedVersionCandidates`: one bad upload must not take a model offline while an older
 * valid version exists, and the catalog already lists that one as `latest`.
 */
import { compareVersions } from '../../protocol/versions.ts';
import { chooseVersion, type CanaryConfig } from './canary.ts';

export interface VersionChoice {
  version: string;
  /** Whether the choice depends on the client (so a shared cache must not serve it to others). */
  perClient: boolean;
}

export interface StoredVersionOptions {
  model: string;
  requested?: string | undefined;
  canary: CanaryConfig;
  clientId: string;
}

/**
 * Stored versions in the order to try them: the requested version alone (a client that names a version
 * gets that one or an error); else the client's canary version when stored, then every other stored
 * version, newest first.
 * @example
 * storedVersionCandidates(['1.0.0', '2.0.0'], { model: 'm', canary: {}, clientId: 'c' }).map((c) => c.version); // ['2.0.0', '1.0.0']
 */
export function storedVersionCandidates(stored: readonly string[], options: StoredVersionOptions): VersionChoice[] {
  if (options.requested !== undefined) {
    return stored.includes(options.requested) ? [{ version: options.requested, perClient: false }] : [];
  }
  const newestFirst = [...new Set(stored)].sort(compareVersions).reverse();
  const canary = chooseVersion(options.canary, options.model, options.clientId);
  if (canary === undefined || !stored.includes(canary)) return newestFirst.map((version) => ({ version, perClient: false }));
  // A canary client that cannot get its version gets the rest as anyone would, but the answer still
  // depends on who asked.
  return [canary, ...newestFirst.filter((v) => v !== canary)].map((version) => ({ version, perClient: true }));
}

/** The first of `storedVersionCandidates`, or undefined when none is stored. */
export function chooseStoredVersion(stored: readonly string[], options: StoredVersionOptions): VersionChoice | undefined {
  return storedVersionCandidates(stored, options)[0];
}
