/**
 * Validates Kubernetes manifests offline against the Kubernetes OpenAPI schemas, as compiled into
 * `kubernetes-models` (each model class carries `validate()`): types, required fields, enums and formats.
 * No cluster is needed. The schemas do not forbid unknown fields (the API server does, with kubectl's
 * strict field validation), so deploy/k8s.test.ts also checks the fields Tandem relies on by path.
 *
 *   tandem validate-k8s [deploy/k8s/deployment.yaml ...]      # default: every manifest in deploy/k8s/
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';

export const K8S_DIR = resolve(import.meta.dirname, 'k8s');

/** The kinds Tandem's manifests use, by `apiVersion/kind`. Anything else is refused, not waved through. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
};

export interface ManifestDocument {
  file: string;
  apiVersion: string;
  kind: string;
  name: string;
  // Parsed YAML: read by path in tests.
  // biome-ignore lint/suspicious/noExplicitAny: any shape of Kubernetes object; validated by kubernetes-models.
  body: any;
}

/** Every document of every manifest file in `dir` (`*.yaml`, the kustomization excepted). */
export async function loadManifests(dir = K8S_DIR): Promise<ManifestDocument[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
  const out: ManifestDocument[] = [];
  for (const file of files) out.push(...parseManifests(await readFile(join(dir, file), 'utf8'), file));
  return out;
}

export function parseManifests(text: string, file: string): ManifestDocument[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const body = doc.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } } | null;
    if (body === null) return [];
    return [{ file, apiVersion: String(body.apiVersion), kind: String(body.kind), name: String(body.metadata?.name), body }];
  });
}

/** The schema problems of one document; empty when it is valid. */
export function validateManifest(doc: Pick<ManifestDocument, 'apiVersion' | 'kind' | 'body'>): string[] {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) return [`no schema for ${doc.apiVersion} ${doc.kind} (known: ${Object.keys(MODELS).join(', ')})`];
  try {
    new Model(doc.body as never).validate();
    return [];
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
}

export async function main(files: string[]): Promise<number> {
  if (files.includes('--help') || files.includes('-h')) {
    process.stdout.write('usage: tandem validate-k8s [FILE.yaml ...]   (default: every manifest in deploy/k8s/)\n');
    return 0;
  }
  const docs = files.length === 0 ? await loadManifests() : (await Promise.all(files.map(async (f) => parseManifests(await readFile(f, 'utf8'), f)))).flat();
  let failed = 0;
  for (const doc of docs) {
    const problems = validateManifest(doc);
    failed += problems.length > 0 ? 1 : 0;
    process.stdout.write(`${problems.length === 0 ? 'ok     ' : 'INVALID'} ${doc.file}: ${doc.kind} ${doc.name}${problems.map((p) => `\n  ${p}`).join('')}\n`);
  }
  process.stdout.write(`${docs.length - failed} valid, ${failed} invalid\n`);
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`tandem validate-k8s: ${String(err)}\n`);
      process.exit(1);
    },
  );
}
