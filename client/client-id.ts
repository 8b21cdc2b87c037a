/**
 * The SDK's `x-client-id`: one per install, not one per page load. The edge keys canary stickiness and its
 * caches on it, so an id that changed on every reload would move a user between model versions and miss
 * every cache. Made on first use (a random UUID, no personal data), kept in the store the SDK is given
 * (IndexedDB by default); the app's own `clientId` takes precedence and is never stored.
 */
import type { KeyValueStore } from './core/store.ts';

/** The key the id is kept under. */
export const CLIENT_ID_KEY = 'client-id';

const STORED_ID = /^[\x21-\x7e]{1,128}$/;

export interface ClientIdDeps {
  /** Where the id is kept; failures must read as misses, with a warning (a `forgivingStore`). */
  store: KeyValueStore<string>;
  /** Default `crypto.randomUUID`. */
  randomId?: () => string;
}

/** A random UUID; from `getRandomValues` where `randomUUID` is missing (a page not served over HTTPS). */
function randomId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const hex = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A function that resolves to this install's id, reading (or making and keeping) it once, on first call:
 * creating the SDK never touches IndexedDB.
 * @example
 * const clientId = persistentClientId({ store: forgivingStore(idbStore('tandem-client', 'identity'), warn, 'client id') });
 * headers['x-client-id'] = await clientId();
 */
export function persistentClientId(deps: ClientIdDeps): () => Promise<string> {
  let id: Promise<string> | undefined;
  return () =>
    (id ??= (async () => {
      const stored = await deps.store.get(CLIENT_ID_KEY);
      if (typeof stored === 'string' && STORED_ID.test(stored)) return stored;
      const made = (deps.randomId ?? randomId)();
      await deps.store.set(CLIENT_ID_KEY, made);
      // Two tabs opened at once may both make one: whichever was written last is the install's from now on.
      const kept = await deps.store.get(CLIENT_ID_KEY);
      return typeof kept === 'string' && STORED_ID.test(kept) ? kept : made;
    })());
}
