/**
 * `npm run byom:figures`: what `tandem import` measures on every catalogued third-party model, as the
 * README's "Imported third-party models" table. Each model is imported by the real command with its
 * catalog examples and every device variant (`--device int8,fp16,fp32 --keep-out-of-tolerance`, so a
 * variant past its default tolerance is measured and shown rather than refused), into a temporary
 * repository signed by a throwaway key; the table is read from the signed manifests and from import's own
 * warnings. Printed to stdout and written to e2e/artifacts/byom-figures.md. A few minutes on 2 cores.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { addTrustedKey, writeSigningKey } from '../../models/keys-store.ts';
import { THIRD_PARTY_MODELS, type ThirdPartyModel } from '../../models/third-party/catalog.ts';
import { generateSigningKey } from '../../protocol/keys.ts';
import type { Manifest } from '../../protocol/manifest.ts';
import { ARTIFACTS } from './browser.ts';
import { inBatches, readSignedManifest, tandemCli, writeExampleRequests } from './byom-import.ts';

export interface ImportedFigures {
  model: ThirdPartyModel;
  manifest: Manifest;
  /** import's stderr: its warnings say which variants it kept past their default tolerance, and why. */
  stderr: string;
}

/** Imports every catalog model with every device variant; returns the manifests and import's warnings. */
export async function importAll(): Promise<ImportedFigures[]> {
  const work = await mkdtemp(join(tmpdir(), 'tandem-byom-figures-'));
  try {
    const key = await generateSigningKey();
    const keyFile = join(work, 'key.json');
    await writeSigningKey(keyFile, key);
    await addTrustedKey(join(work, 'trusted-keys.json'), key.publicKey);
    const repository = join(work, 'repository');
    return await inBatches(
      THIRD_PARTY_MODELS.map((model) => async () => {
        const examples = await writeExampleRequests(model, join(work, 'requests', model.key));
        const args = ['import', model.path(), '--id', model.key, '--version', '1.0.0', '--task', model.task, ...examples.flatMap((e) => ['--example', e.path])];
        args.push('--device', 'int8,fp16,fp32', '--keep-out-of-tolerance', '--repository', repository, '--key', keyFile);
        const { stderr, ms } = await tandemCli(args);
        process.stderr.write(`imported ${model.key} in ${(ms / 1000).toFixed(1)} s\n`);
        return { model, manifest: await readSignedManifest(repository, model.key, '1.0.0', JSON.stringify({ keys: [key.publicKey] })), stderr };
      }),
      2,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const pct = (v: number | undefined) => (v === undefined ? '' : `${(v * 100).toFixed(v < 0.001 ? 4 : v < 0.1 ? 2 : 1)} %`);
const num = (v: number | undefined) => (v === undefined ? '' : v === 0 ? '0' : v < 0.01 || v >= 1000 ? v.toExponential(2) : v.toPrecision(3));
const both = (node: string, wasm: string) => (node === wasm ? node : `${node} / ${wasm}`);

/** The default-tolerance verdict in few words, from import's warning (`keeping the int8 variant although …`). */
function verdict(stderr: string, variant: string): string {
  const kept = new RegExp(`keeping the ${variant} variant although (.*?) \\(--keep-out-of-tolerance\\)`).exec(stderr)?.[1];
  if (kept === undefined) return 'yes';
  if (/not finite/.test(kept)) return 'no: not finite';
  const over = /over the tolerance of ([\d.]+ %)/.exec(kept)?.[1];
  if (over) return `no: over ${over.replace('.00 %', ' %')}`;
  return `no: ${kept}`;
}

/**
 * The markdown table: one row per model and variant (the fp32 device variant is the original file, the
 * fp32 row, so it has none of its own).
 */
export function figuresTable(results: readonly ImportedFigures[]): string {
  const lines = [
    '| model (npm package) | variant | bytes | × fp32 | error / output range (node / WASM) | max abs error (node / WASM) | top-1 | within the default tolerance |',
    '| --- | --- | ---: | ---: | --- | --- | --- | --- |',
  ];
  for (const { model, manifest, stderr } of results) {
    const origin = manifest.variants.find((v) => v.tier === 'origin')!;
    const e = manifest.evaluation ?? {};
    for (const v of manifest.variants.filter((v) => v.name !== 'fp32-device')) {
      const size = `${v.artifact.bytes.toLocaleString('en-US')} | ${(v.artifact.bytes / origin.artifact.bytes).toFixed(3)}`;
      if (v === origin) {
        lines.push(`| \`${model.key}\` (${model.package}@${model.version}) | fp32 | ${size} | the original file, on the origin and as \`fp32-device\` | | | |`);
      } else if (v.artifact.sha256 === origin.artifact.sha256) {
        lines.push(`| | ${v.name} | ${size} | the original file: nothing to rewrite at opset ${v.opset} | | | |`);
      } else {
        const error = e[`${v.name}.normalizedMaxError`];
        const figures =
          error === undefined
            ? 'not finite (NaN or ±Infinity where the original is finite) |'
            : `${both(pct(error), pct(e[`${v.name}.wasm.normalizedMaxError`]))} | ${both(num(e[`${v.name}.maxAbsError`]), num(e[`${v.name}.wasm.maxAbsError`]))}`;
        const top1 = e[`${v.name}.top1Agreement`];
        lines.push(
          `| | ${v.name} | ${size} | ${figures} | ${top1 === undefined ? '' : both(pct(top1), pct(e[`${v.name}.wasm.top1Agreement`]))} | ${verdict(stderr, v.name)} |`,
        );
      }
    }
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const table = figuresTable(await importAll());
  await mkdir(ARTIFACTS, { recursive: true });
  await writeFile(join(ARTIFACTS, 'byom-figures.md'), `${table}\n`);
  process.stdout.write(`${table}\n`);
}
