/**
 * `tandem release --model ID --version V [--current]`: adds a signed, verified model version to the
 * timestamp record (with its manifest's digest), optionally as the version clients get by default.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { decodeBase64 } from '../../protocol/base64.ts';
import { verifyEnvelope } from '../../protocol/dsse.ts';
import { MANIFEST_PAYLOAD_TYPE } from '../../protocol/manifest.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { readEnvelope, versionDir } from '../../origin/repository.ts';
import { verifyModelDirectory } from '../../origin/verify-version.ts';
import { describeRecord, updateTimestamp, type TimestampCommandOptions } from '../trust/timestamp-command.ts';
import { withRelease } from '../trust/timestamp-update.ts';
import { timestampOptions } from './timestamp-options.ts';

export function register(program: Command): void {
  timestampOptions(
    program
      .command('release')
      .description("add a model version to the timestamp record (after verifying it against the root's release keys)")
      .requiredOption('--model <id>', 'model id')
      .requiredOption('--version <v>', 'model version')
      .option('--current', 'make it the version clients get when they ask for none'),
  ).action(async (options: TimestampCommandOptions & { model: string; version: string; current?: boolean }) => {
    const repository = resolve(options.repository);
    const record = await updateTimestamp(options, async (previous, next, root) => {
      // Signature, expiry and every artifact, with the release role's keys of the root in force.
      await verifyModelDirectory(versionDir(repository, options.model, options.version), root.keysFor('release'));
      const envelope = await readEnvelope(repository, options.model, options.version);
      await verifyEnvelope(envelope, root.keysFor('release'), MANIFEST_PAYLOAD_TYPE);
      const payload = decodeBase64((envelope as { payload: string }).payload, 'manifest_signature_invalid');
      return withRelease(
        previous,
        next,
        options.model,
        options.version,
        { sha256: await sha256Hex(payload), bytes: payload.byteLength },
        options.current ?? false,
      );
    });
    process.stdout.write(describeRecord(record));
  });
}
