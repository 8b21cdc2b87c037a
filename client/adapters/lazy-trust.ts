/**
 * The update framework for the page (../trust.ts), loaded on the first manifest fetch: only apps that pin
 * `rootKeys` use it, so its root chain, timestamp record and floors are a chunk of their own, as the OIP
 * codec is, and the main-thread SDK of every other app stays within its budget (client/bundle-size.test.ts).
 */
import type { Trust, TrustDeps } from '../trust.ts';
import { loadOnce } from '../core/load-once.ts';

/**
 * A `Trust` whose code loads on the first `contact`. Until then no record is known, so nothing is revoked,
 * exactly as with the module loaded. A chunk that fails to load fails that contact and is tried again.
 * @example
 * const trust = config.rootKeys === undefined ? undefined : lazyTrust({ edge, fetch, headers, rootKeys, store, ... });
 */
export function lazyTrust(deps: TrustDeps): Trust {
  let loaded: Trust | undefined;
  const trust = loadOnce(() => import('../trust.ts').then((m) => (loaded = m.createTrust(deps))));
  return {
    contact: async () => (await trust()).contact(),
    check: async (view, manifest, payload, requested) => (await trust()).check(view, manifest, payload, requested),
    revoked: (id, version) => loaded?.revoked(id, version) ?? false,
  };
}
