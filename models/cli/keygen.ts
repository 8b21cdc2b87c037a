/** `tandem keygen`: makes a signing key pair and adds its public half to a trusted-keys file. */
import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { generateSigningKey, isKeyAlgorithm } from '../../protocol/keys.ts';
import { TandemError } from '../../protocol/errors.ts';
import { DEFAULT_KEY_DIR, TRUSTED_KEYS_FILE, addTrustedKey, writeSigningKey } from '../keys-store.ts';

export function register(program: Command): void {
  program
    .command('keygen')
    .description('generate a signing key (private key file mode 0600, never commit it)')
    .option('--out <file>', 'private key file', join(DEFAULT_KEY_DIR, 'signing-key.json'))
    .option('--trusted <file>', 'trusted-keys file to add the public key to', join(DEFAULT_KEY_DIR, TRUSTED_KEYS_FILE))
    .addOption(new Option('--algorithm <name>', 'signature algorithm').choices(['Ed25519', 'ECDSA-P256']).default('Ed25519'))
    .option('--force', 'replace an existing private key file')
    .action(async (options: { out: string; trusted: string; algorithm: string; force?: boolean }) => {
      if (!isKeyAlgorithm(options.algorithm)) {
        throw new TandemError('key_invalid', `unknown algorithm ${options.algorithm}; use Ed25519 or ECDSA-P256`);
      }
      const key = await generateSigningKey(options.algorithm);
      await writeSigningKey(options.out, key, options.force);
      await addTrustedKey(options.trusted, key.publicKey);
      process.stdout.write(`${JSON.stringify(key.publicKey, null, 2)}\n` + `private key: ${options.out}\npublic key added to: ${options.trusted}\n`);
    });
}
