/**
 * The line `tandem edge` and `tandem start` print about the signing keys the tiers are given, so a wrong
 * or stale trusted set (a rotation half done) is seen at start rather than as refused manifests later.
 */
import { loadTrustedKeys } from '../../protocol/keys.ts';

/**
 * @param text the trusted key set's JSON, as the edge (`TRUSTED_KEYS`) and the origin get it.
 * @param from where it came from: `TANDEM_TRUSTED_KEYS` or a file's path.
 * @throws TandemError `key_invalid` for a malformed set (the edge would refuse it too).
 * @example
 * process.stderr.write(`  ${await describeTrustedKeys(text, file)}\n`);
 */
export async function describeTrustedKeys(text: string, from: string): Promise<string> {
  const set = await loadTrustedKeys(text);
  return `trusted keys (${from}; ${set.threshold} of ${set.keys.size} must sign): ${[...set.keys.keys()].join(', ')}`;
}
