/**
 * `tandem sign`: signs a manifest into a DSSE envelope. Given an envelope instead, it re-signs the same
 * payload bytes, optionally keeping the signatures already there (how a key rotation adds the new key).
 */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { parseEnvelope, signEnvelope, type DsseEnvelope } from '../../protocol/dsse.ts';
import { decodeBase64 } from '../../protocol/base64.ts';
import { parseManifest } from '../../protocol/manifest.ts';
import { signManifest } from '../../protocol/signed-manifest.ts';
import { TandemError } from '../../protocol/errors.ts';
import { ensureDevKey, readJson, readSigningKey } from '../keys-store.ts';
import { parseExpiry } from '../trust/expiry.ts';

interface SignOptions {
  key: string[];
  out?: string;
  keepSignatures?: boolean;
  expires?: string;
}

export function register(program: Command): void {
  program
    .command('sign')
    .description('sign a manifest (or re-sign an envelope) as a DSSE envelope')
    .argument('<file>', 'manifest JSON, or an existing DSSE envelope')
    .option('--key <file>', 'private key file (repeatable; default: the dev key)', collect, [])
    .option('--out <file>', 'where to write the envelope (default: stdout)')
    .option('--keep-signatures', 'when re-signing an envelope, keep its existing signatures')
    .option(
      '--expires <when>',
      "set the manifest's expiry (365d, 12h, an ISO date, or never); re-signing an envelope with it renews the expiry",
      parseExpiryFlag,
    )
    .action(async (file: string, options: SignOptions) => {
      // The input is checked first: a refused input writes nothing, not even a dev key.
      const input = await readJson(file);
      let manifest = isEnvelope(input) ? manifestOf(parseEnvelope(input)) : parseManifest(input);
      const renew = options.expires !== undefined;
      if (renew && options.keepSignatures) {
        throw new TandemError('bad_request', '--expires changes the signed payload, so existing signatures cannot be kept: re-sign with every key instead');
      }
      if (renew) {
        const { expires: _old, ...rest } = manifest;
        manifest = parseManifest(options.expires === NEVER ? rest : { ...rest, expires: options.expires });
      }
      const keys = options.key.length > 0 ? await Promise.all(options.key.map(readSigningKey)) : [(await ensureDevKey()).key];
      const envelope =
        isEnvelope(input) && !renew ? await resign(parseEnvelope(input), keys, options.keepSignatures ?? false) : await signManifest(manifest, keys);
      const text = `${JSON.stringify(envelope, null, 2)}\n`;
      if (options.out) await writeFile(options.out, text);
      else process.stdout.write(text);
    });
}

async function resign(envelope: DsseEnvelope, keys: Awaited<ReturnType<typeof readSigningKey>>[], keep: boolean) {
  const payload = decodeBase64(envelope.payload, 'manifest_signature_invalid');
  parseManifest(JSON.parse(new TextDecoder().decode(payload)));
  const fresh = await signEnvelope(envelope.payloadType, payload, keys);
  const signers = new Set(fresh.signatures.map((s) => s.keyid));
  const kept = keep ? envelope.signatures.filter((s) => !signers.has(s.keyid)) : [];
  return { ...fresh, signatures: [...kept, ...fresh.signatures] };
}

const NEVER = 'never';

function parseExpiryFlag(text: string): string {
  return parseExpiry(text) ?? NEVER;
}

/** The manifest an envelope carries (not verified: re-signing vouches for it anew). */
function manifestOf(envelope: DsseEnvelope) {
  const payload = decodeBase64(envelope.payload, 'manifest_signature_invalid');
  return parseManifest(JSON.parse(new TextDecoder().decode(payload)));
}

function isEnvelope(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'payloadType' in value && 'signatures' in value;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
