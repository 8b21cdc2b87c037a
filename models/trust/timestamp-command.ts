/**
 * What `tandem release`, `revoke` and `timestamp` share: read the repository's root and the record in
 * force, make the next record, sign it with the timestamp key, check that the root's timestamp role
 * verifies it (so nothing written is something verifiers would refuse), and write it.
 */
import { resolve } from 'node:path';
import { TandemError } from '../../protocol/errors.ts';
import { TIMESTAMP_KEY } from '../../protocol/repository-layout.ts';
import type { VerifiedRoot } from '../../protocol/trust/root.ts';
import { signTimestamp, verifyTimestamp, type TimestampRecord } from '../../protocol/trust/timestamp.ts';
import { readSigningKey } from '../keys-store.ts';
import { parseExpiry } from './expiry.ts';
import { readTimestampEnvelope, readTrustedRoot, writeDocument } from './metadata-store.ts';
import type { Next } from './timestamp-update.ts';

export interface TimestampCommandOptions {
  key: string[];
  expires: string;
  repository: string;
}

export async function updateTimestamp(
  options: TimestampCommandOptions,
  change: (previous: TimestampRecord | undefined, next: Next, root: VerifiedRoot) => Promise<TimestampRecord> | TimestampRecord,
): Promise<TimestampRecord> {
  const expires = parseExpiry(options.expires);
  if (expires === undefined) throw new TandemError('bad_request', 'a timestamp record must expire: give --expires (hours to days)');
  const repository = resolve(options.repository);
  const root = await readTrustedRoot(repository);
  const keys = await Promise.all(options.key.map((f) => readSigningKey(f)));
  const envelope = await readTimestampEnvelope(repository);
  // The record in force may have expired (that is what a refresh is for): its signature still counts.
  const previous = envelope === undefined ? undefined : (await verifyTimestamp(envelope, root, 0)).record;
  const record = await change(previous, { expires, rootVersion: root.document.version }, root);
  const signed = await signTimestamp(record, keys);
  await verifyTimestamp(signed, root, Date.now());
  await writeDocument(repository, TIMESTAMP_KEY, signed);
  return record;
}

export function describeRecord(record: TimestampRecord, now: number = Date.now()): string {
  const hours = (Date.parse(record.expires) - now) / 3_600_000;
  const lines = [
    `timestamp record ${record.version} (root ${record.rootVersion}), expires ${record.expires} (${hours >= 0 ? `in ${hours.toFixed(1)} h` : 'EXPIRED'})`,
  ];
  for (const [id, entry] of Object.entries(record.models)) {
    lines.push(
      `  ${id}: current ${entry.current}; live ${Object.keys(entry.versions).join(', ')}${entry.revoked.length ? `; revoked ${entry.revoked.join(', ')}` : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
