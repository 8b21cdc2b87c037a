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
import { ensureDevKey, readJson, readSigningKey } from '../keys-store.ts';

interface SignOptions {
  key: string[];
  out?: string;
  keepSignatures?: boolean;
}

export function register(program: Command): void {
  program
    .command('sign')
    .description('sign a manifest (or re-sign an envelope) as a DSSE envelope')
    .argument('<file>', 'manifest JSON, or an existing DSSE envelope')
    .option('--key <file>', 'private key file (repeatable; default: the dev key)', collect, [])
    .option('--out <file>', 'where to write the envelope (default: stdout)')
    .option('--keep-signatures', 'when re-signing an envelope, keep its existing signatures')
    .action(async (file: string, options: SignOptions) => {
      // The input is checked first: a refused input writes nothing, not even a dev key.
      const input = await readJson(file);
      const parsed = isEnvelope(input) ? { envelope: parseEnvelope(input) } : { manifest: parseManifest(input) };
      const keys =
        options.key.length > 0 ? await Promise.all(options.key.map(readSigningKey)) : [(await ensureDevKey()).key];
      const envelope = parsed.envelope
        ? await resign(parsed.envelope, keys, options.keepSignatures ?? false)
        : await signManifest(parsed.manifest!, keys);
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

function isEnvelope(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'payloadType' in value && 'signatures' in value;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
