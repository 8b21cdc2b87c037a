// Secrets are not in wrangler.toml, so `wrangler types` can't see them: set with `wrangler secret put`
// in production, and by stack/edge-process.ts through an --env-file in development.
declare namespace Cloudflare {
  interface Env {
    /** Bearer token the edge sends to origins. */
    ORIGIN_TOKEN?: string;
    /** API keys, hashed: see worker/auth/api-keys.ts for the format. */
    API_KEYS?: string;
  }
}
