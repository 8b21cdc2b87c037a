/**
 * Which stored version of a model to serve: the one asked for, else the client's canary version when
 * storage holds it, else the newest. The inference route makes the same canary choice (see canary.ts).
 */
import { newestVersion } from '../../protocol/versions.ts';
import { chooseVersion, type CanaryConfig } from './canary.ts';

export interface VersionChoice {
  version: string;
  /** Whether the choice depends on the client (so a shared cache must not serve it to others). */
  perClient: boolean;
}

export function chooseStoredVersion(
  stored: readonly string[],
  options: { model: string; requested?: string | undefined; canary: CanaryConfig; clientId: string },
): VersionChoice | undefined {
  if (options.requested !== undefined) {
    return stored.includes(options.requested) ? { version: options.requested, perClient: false } : undefined;
  }
  const canary = chooseVersion(options.canary, options.model, options.clientId);
  if (canary !== undefined && stored.includes(canary)) return { version: canary, perClient: true };
  const latest = newestVersion(stored);
  return latest === undefined ? undefined : { version: latest, perClient: false };
}
