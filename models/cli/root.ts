/**
 * `tandem root init|rotate`: the root of trust of a model repository (protocol/trust/root.ts). `init`
 * writes version 1; `rotate` writes version n+1 with changed keys or thresholds, and refuses to write
 * one that version n's root keys could not verify (so apps that pin the old root keys follow it).
 */
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { TandemError } from '../../protocol/errors.ts';
import type { PublicKeyRecord } from '../../protocol/keys.ts';
import { rootKey } from '../../protocol/repository-layout.ts';
import { parseRoot, ROLES, signRoot, verifyNextRoot, type Role, type RootDocument } from '../../protocol/trust/root.ts';
import { DEFAULT_REPOSITORY } from '../build.ts';
import { readPublicKeyRecord, readSigningKey } from '../keys-store.ts';
import { parseExpiry } from '../trust/expiry.ts';
import { readTrustedRoot, rootVersions, writeDocument } from '../trust/metadata-store.ts';

interface RoleOptions {
  rootKey?: string[];
  releaseKey?: string[];
  timestampKey?: string[];
  rootThreshold?: number;
  releaseThreshold?: number;
  timestampThreshold?: number;
  expires: string;
  repository: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const threshold = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new TandemError('bad_request', `not a threshold: ${value}`);
  return n;
};

function roleOptions(command: Command, required: boolean): Command {
  for (const role of ROLES) {
    const what = role === 'root' ? 'private key file of a root key (signs this root)' : `key file (public or private) of a ${role} key`;
    command.addOption(new Option(`--${role}-key <file>`, `${what}; repeatable${required ? '' : ' (default: keep the current keys)'}`).argParser(collect));
    command.addOption(new Option(`--${role}-threshold <n>`, `signatures the ${role} role needs (default 1, or the current)`).argParser(threshold));
  }
  return command
    .option('--expires <when>', 'expiry of this root version: 365d, 12h, an ISO date', '365d')
    .option('--repository <dir>', 'model repository (TANDEM_MODEL_REPOSITORY)', process.env.TANDEM_MODEL_REPOSITORY ?? DEFAULT_REPOSITORY);
}

const KEY_OPTION = { root: 'rootKey', release: 'releaseKey', timestamp: 'timestampKey' } as const;
const THRESHOLD_OPTION = { root: 'rootThreshold', release: 'releaseThreshold', timestamp: 'timestampThreshold' } as const;

async function roleRecords(options: RoleOptions, role: Role): Promise<PublicKeyRecord[] | undefined> {
  const files = options[KEY_OPTION[role]];
  return files === undefined ? undefined : Promise.all(files.map((f) => readPublicKeyRecord(f)));
}

function documentFrom(version: number, expires: string, roles: Record<Role, { records: PublicKeyRecord[]; threshold: number }>): RootDocument {
  const keys: Record<string, PublicKeyRecord> = {};
  for (const role of ROLES) for (const record of roles[role].records) keys[record.keyid] = record;
  return parseRoot({
    _type: 'root',
    version,
    expires,
    keys,
    roles: Object.fromEntries(ROLES.map((role) => [role, { keyids: roles[role].records.map((r) => r.keyid), threshold: roles[role].threshold }])),
  });
}

export function register(program: Command): void {
  const root = program.command('root').description('the root of trust: the keys of each role, pinned in apps by the root keys only');

  roleOptions(root.command('init').description('write root version 1 of a repository'), true).action(async (options: RoleOptions) => {
    const expires = parseExpiry(options.expires);
    if (expires === undefined) throw new TandemError('bad_request', 'a root must expire: give --expires');
    const repository = resolve(options.repository);
    if ((await rootVersions(repository)).length > 0) throw new TandemError('bad_request', `${repository} already has a root; use tandem root rotate`);
    const roles = {} as Record<Role, { records: PublicKeyRecord[]; threshold: number }>;
    for (const role of ROLES) {
      const records = await roleRecords(options, role);
      if (!records?.length) throw new TandemError('bad_request', `--${role}-key is required`);
      roles[role] = { records, threshold: options[THRESHOLD_OPTION[role]] ?? 1 };
    }
    const document = documentFrom(1, expires, roles);
    const signers = await Promise.all(options.rootKey!.map((f) => readSigningKey(f)));
    const envelope = await signRoot(document, signers);
    // What an app pinning these root keys will check: refuse to write a root it would refuse.
    const { verifyInitialRoot } = await import('../../protocol/trust/root.ts');
    const { loadTrustedKeys } = await import('../../protocol/keys.ts');
    await verifyInitialRoot(envelope, await loadTrustedKeys({ keys: roles.root.records, threshold: roles.root.threshold }));
    const path = await writeDocument(repository, rootKey(1), envelope);
    process.stdout.write(`root version 1 written to ${path}\n${describe(document)}`);
  });

  roleOptions(root.command('rotate').description('write root version n+1: new keys or thresholds for any role, signed by old and new root keys'), false)
    .addOption(
      new Option('--sign-with <file>', 'private key file of a current or new root key; repeatable; enough of both to meet both thresholds')
        .argParser(collect)
        .makeOptionMandatory(),
    )
    .action(async (options: RoleOptions & { signWith: string[] }) => {
      const expires = parseExpiry(options.expires);
      if (expires === undefined) throw new TandemError('bad_request', 'a root must expire: give --expires');
      const repository = resolve(options.repository);
      const current = await readTrustedRoot(repository);
      const roles = {} as Record<Role, { records: PublicKeyRecord[]; threshold: number }>;
      for (const role of ROLES) {
        const kept = current.document.roles[role];
        roles[role] = {
          records: (await roleRecords(options, role)) ?? kept.keyids.map((id) => current.document.keys[id]!),
          threshold: options[THRESHOLD_OPTION[role]] ?? kept.threshold,
        };
      }
      const document = documentFrom(current.document.version + 1, expires, roles);
      const envelope = await signRoot(document, await Promise.all(options.signWith.map((f) => readSigningKey(f))));
      await verifyNextRoot(current, envelope);
      const path = await writeDocument(repository, rootKey(document.version), envelope);
      process.stdout.write(`root version ${document.version} written to ${path}\n${describe(document)}`);
    });
}

function describe(document: RootDocument): string {
  return `${ROLES.map((role) => `  ${role.padEnd(9)} ${document.roles[role].threshold} of ${document.roles[role].keyids.map((k) => k.slice(0, 12)).join(', ')}\n`).join('')}  expires   ${document.expires}\n`;
}
