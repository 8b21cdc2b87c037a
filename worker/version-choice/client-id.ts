/**
 * Who a client is, for sticky canary assignment: its `x-client-id` header (the SDK sends a stable id per
 * install), else its API key, else its address. Only ever hashed, never logged.
 */
import type { ApiKeyRecord } from '../auth/api-keys.ts';

export function clientIdOf(headers: Headers, key: ApiKeyRecord | undefined): string {
  const given = headers.get('x-client-id');
  if (given) return `client:${given}`;
  if (key) return `key:${key.sha256}`;
  return `ip:${headers.get('cf-connecting-ip') ?? 'unknown'}`;
}
