/**
 * `tandem rollout set|status|promote|rollback`: the signed rollout record of a model (which versions
 * clients get, in what shares; protocol/rollout/), written into the model repository at
 * `_rollout/<model>.dsse.json`, from where it is seeded or uploaded to the edge's R2 like manifests.
 * `set` and `promote` refuse a version that is not a signed version in the repository, or that some
 * origin of the pool does not hold (`model_not_ready`); `rollback` checks nothing, so it always works.
 * Every written record is verified with the release keys first, so nothing written is refused later.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { resolve } from 'node:path';
import { TandemError } from '../../protocol/errors.ts';
import type { SigningKey, TrustedKeySet } from '../../protocol/keys.ts';
import { promoteRollout, rollbackRollout, setRollout } from '../../protocol/rollout/rollout-changes.ts';
import { percentShares, signRollout, verifyRollout, type RolloutRecord } from '../../protocol/rollout/rollout-record.ts';
import { rolloutKey } from '../../protocol/repository-layout.ts';
import { DEFAULT_REPOSITORY } from '../../models/build.ts';
import { DEFAULT_KEY_DIR, readSigningKey, TRUSTED_KEYS_FILE } from '../../models/keys-store.ts';
import { parseExpiry } from '../../models/trust/expiry.ts';
import { writeDocument } from '../../models/trust/metadata-store.ts';
import { assertOriginsHold, assertReleased, parseOrigins, readRollout, releaseKeys } from './rollout-store.ts';

interface CommonOptions {
  repository: string;
  trusted: string;
}

interface WriteOptions extends CommonOptions {
  key: string[];
  expires: string;
  origins?: string;
  originToken?: string;
  readyTimeoutMs: string;
}

interface SetOptions extends WriteOptions {
  stable?: string;
  maxErrorRate?: number;
  minMedianConfidence?: number;
  minSamples?: number;
}

function common(command: Command): Command {
  return command
    .option('--repository <dir>', 'model repository (TANDEM_MODEL_REPOSITORY)', process.env.TANDEM_MODEL_REPOSITORY ?? DEFAULT_REPOSITORY)
    .option('--trusted <file>', 'trusted-keys file, used when the repository has no root of trust', `${DEFAULT_KEY_DIR}/${TRUSTED_KEYS_FILE}`);
}

function writing(command: Command): Command {
  return common(command)
    .requiredOption('--key <file>', 'private key file of a release key (repeatable)', (v: string, p: string[] = []) => [...p, v])
    .option('--expires <when>', 'expiry of the record: a duration (30d, 12h) or an ISO date', '30d');
}

function checking(command: Command): Command {
  return command
    .option('--origins <urls>', 'the pool of origins that must hold each version: a comma list or JSON array (TANDEM_ORIGINS)', process.env.TANDEM_ORIGINS)
    .option('--origin-token <token>', "bearer token for the origins' metadata routes (TANDEM_ORIGIN_TOKEN)", process.env.TANDEM_ORIGIN_TOKEN)
    .option('--ready-timeout-ms <ms>', 'how long each origin may take to answer', '5000');
}

const fraction = (flag: string) => (text: string) => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${flag}: a number from 0 to 1`);
  return n;
};

/** `1.0.0=90` -> ['1.0.0', 90]. */
function parseWeight(text: string): [string, number] {
  const match = /^([^=]+)=(.+)$/.exec(text);
  const weight = Number(match?.[2]);
  if (!match || !Number.isFinite(weight))
    throw new TandemError('bad_request', `${JSON.stringify(text)}: give each version as <version>=<weight>, e.g. 1.1.0=10`);
  return [match[1]!, weight];
}

export function register(program: Command): void {
  const rollout = program.command('rollout').description("a model's signed rollout record: which versions clients get, in what shares");

  checking(writing(rollout.command('set')))
    .description('write a new record: versions and weights (summing to 100 or 1), checked against the repository and every origin')
    .argument('<model>', 'model id')
    .argument('<weights...>', 'version=weight pairs, e.g. 1.0.0=90 1.1.0=10')
    .option('--stable <version>', 'the version that takes the share of one that cannot have it (default: the stable of the record in force, else the heaviest)')
    .option('--max-error-rate <r>', 'roll the canary back past this error rate (0-1)', fraction('--max-error-rate'))
    .option('--min-median-confidence <c>', 'roll the canary back below this median top-class confidence (0-1)', fraction('--min-median-confidence'))
    .option('--min-samples <n>', 'canary runs seen before the thresholds are judged', (t: string) => {
      const n = Number(t);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('--min-samples: a positive integer');
      return n;
    })
    .action(async (model: string, pairs: string[], options: SetOptions) => {
      const weights = Object.fromEntries(pairs.map(parseWeight));
      await update(model, options, async (previous, expires, keys, repository) => {
        const next = setRollout(previous, {
          model,
          weights,
          stable: options.stable,
          expires,
          rollback: { maxErrorRate: options.maxErrorRate, minMedianConfidence: options.minMedianConfidence, minSamples: options.minSamples },
        });
        await checkServable(repository, next, keys, options);
        return next;
      });
    });

  checking(writing(rollout.command('promote')))
    .description('make a canary (the only one, or the one named) the stable version with all the traffic')
    .argument('<model>', 'model id')
    .argument('[version]', 'the version to promote (default: the one canary)')
    .action(async (model: string, version: string | undefined, options: WriteOptions) => {
      await update(model, options, async (previous, expires, keys, repository) => {
        const next = promoteRollout(previous, expires, version);
        await checkServable(repository, next, keys, options);
        return next;
      });
    });

  writing(rollout.command('rollback'))
    .description('send all the traffic back to the stable version (checks no origin: it must always work)')
    .argument('<model>', 'model id')
    .action(async (model: string, options: WriteOptions) => {
      await update(model, options, (previous, expires) => rollbackRollout(previous, expires));
    });

  common(rollout.command('status'))
    .description('print the record in force, verified')
    .argument('<model>', 'model id')
    .option('--json', 'print the record as JSON')
    .action(async (model: string, options: CommonOptions & { json?: boolean }) => {
      const repository = resolve(options.repository);
      const { keys, from } = await releaseKeys(repository, options.trusted);
      const record = await readRollout(repository, model, keys);
      if (!record) throw new TandemError('not_found', `${model} has no rollout record in ${repository} (tandem rollout set)`);
      process.stdout.write(options.json ? `${JSON.stringify(record, null, 2)}\n` : describeRollout(record, `verified with ${from}`));
    });
}

/** The record's versions with weight must be signed versions in the repository and held by every origin. */
async function checkServable(repository: string, record: RolloutRecord, keys: TrustedKeySet, options: WriteOptions): Promise<void> {
  const versions = Object.entries(record.weights)
    .filter(([, w]) => w > 0)
    .map(([v]) => v);
  await assertReleased(repository, record.model, versions, keys);
  const timeoutMs = Number(options.readyTimeoutMs);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TandemError('bad_request', '--ready-timeout-ms: a positive number');
  await assertOriginsHold(parseOrigins(options.origins), record.model, versions, { token: options.originToken, timeoutMs });
}

async function update(
  model: string,
  options: WriteOptions,
  change: (previous: RolloutRecord | undefined, expires: string, keys: TrustedKeySet, repository: string) => Promise<RolloutRecord> | RolloutRecord,
): Promise<void> {
  const expires = parseExpiry(options.expires);
  if (expires === undefined) throw new TandemError('bad_request', 'a rollout record must expire: give --expires (e.g. 30d)');
  const repository = resolve(options.repository);
  const { keys, from } = await releaseKeys(repository, options.trusted);
  const signers: SigningKey[] = await Promise.all(options.key.map((f) => readSigningKey(f)));
  const previous = await readRollout(repository, model, keys);
  const next = await change(previous, expires, keys, repository);
  const signed = await signRollout(next, signers);
  await verifyRollout(signed, keys, Date.now(), model);
  const path = await writeDocument(repository, rolloutKey(model), signed);
  process.stdout.write(describeRollout(next, `written to ${path}, signed for ${from}`));
}

export function describeRollout(record: RolloutRecord, note: string, now: number = Date.now()): string {
  const days = (Date.parse(record.expires) - now) / 86_400_000;
  const shares = Object.entries(percentShares(record))
    .map(([v, p]) => `${v} ${Number(p.toFixed(2))}%${v === record.stable ? ' (stable)' : ''}`)
    .join(', ');
  const { maxErrorRate, minMedianConfidence, minSamples } = record.rollback;
  return [
    `rollout record ${record.version} of ${record.model} (${note}), expires ${record.expires} (${days >= 0 ? `in ${days.toFixed(1)} days` : 'EXPIRED'})`,
    `  ${shares}`,
    `  rollback of a canary past ${maxErrorRate * 100}% errors or below a median confidence of ${minMedianConfidence}, after ${minSamples} runs`,
    '',
  ].join('\n');
}
