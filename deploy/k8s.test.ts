/**
 * The origin's Kubernetes manifests (deploy/k8s/): valid against the Kubernetes schemas, and consistent
 * with each other, with the Dockerfile and with what the origin reads (origin/config.ts, origin/metrics.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadTrustedKeys } from '../protocol/keys.ts';
import { loadOriginConfig } from '../origin/config.ts';
import { signedRepository, startTestOrigin } from '../origin/test-support.ts';
import { K8S_DIR, loadManifests, parseManifests, validateManifest, type ManifestDocument } from './k8s-validate.ts';

const ROOT = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

let docs: ManifestDocument[];
const one = (kind: string) => {
  const found = docs.filter((d) => d.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!.body;
};

beforeAll(async () => {
  docs = await loadManifests();
});

describe('schema validation', () => {
  it('every manifest is valid against the Kubernetes schemas', () => {
    expect(docs.map((d) => d.kind).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'Ingress',
      'Namespace',
      'PodDisruptionBudget',
      'Secret',
      'Service',
    ]);
    for (const doc of docs) expect(validateManifest(doc), `${doc.file} ${doc.kind}`).toEqual([]);
  });

  it('rejects broken manifests', () => {
    const deployment = docs.find((d) => d.kind === 'Deployment')!;
    const broken = structuredClone(deployment.body);
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'eight thousand';
    delete broken.spec.selector;
    const problems = validateManifest({ ...deployment, body: broken });
    expect(problems.join('\n')).toContain('must have required property selector');
    expect(problems.join('\n')).toContain('containerPort must be integer');

    const hpa = docs.find((d) => d.kind === 'HorizontalPodAutoscaler')!;
    const badHpa = structuredClone(hpa.body);
    badHpa.spec.metrics[0].resource.target.averageUtilization = '70%';
    expect(validateManifest({ ...hpa, body: badHpa }).join('\n')).toContain('averageUtilization must be integer');

    const [probe] = parseManifests('apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports:\n    - port: http\n', 'inline.yaml');
    expect(validateManifest(probe!).join('\n')).toContain('port must be integer');
  });

  it('refuses kinds it has no schema for, and YAML that does not parse', () => {
    expect(validateManifest({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', body: {} })[0]).toMatch(/no schema/);
    expect(() => parseManifests('kind: [unclosed', 'bad.yaml')).toThrow(/bad\.yaml/);
  });

  it('kustomization.yaml applies every manifest except the Secret example', () => {
    const kustomization = parse(read('deploy/k8s/kustomization.yaml')) as { resources: string[]; images: { name: string }[] };
    const files = [...new Set(docs.map((d) => d.file))].filter((f) => f !== 'secret.example.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    expect(kustomization.images.map((i) => i.name)).toEqual([one('Deployment').spec.template.spec.containers[0].image]);
  });
});

describe('consistency', () => {
  const container = () => one('Deployment').spec.template.spec.containers[0];
  const envOf = () => Object.fromEntries((container().env as { name: string; value: string }[]).map((e) => [e.name, e.value]));

  it('probes use the OIP health routes on the container port, without a token', async () => {
    const c = container();
    const portNames = (c.ports as { name: string; containerPort: number }[]).flatMap((p) => [p.name, p.containerPort]);
    expect(c.livenessProbe.httpGet.path).toBe('/v2/health/live');
    expect(c.startupProbe.httpGet.path).toBe('/v2/health/live');
    expect(c.readinessProbe.httpGet.path).toBe('/v2/health/ready');
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) expect(portNames).toContain(probe.httpGet.port);
    // The kubelet sends no Authorization header, so health must be open.
    expect(one('ConfigMap').data.TANDEM_OPEN_OBSERVABILITY).toBe('true');
    // The real origin, configured as the ConfigMap has it, answers both probe paths without a token.
    const repo = await signedRepository(['mlp-classifier']);
    const { origin } = await startTestOrigin(repo, { openObservability: true });
    try {
      for (const probe of [c.livenessProbe, c.readinessProbe]) expect((await fetch(`${origin.url}${probe.httpGet.path}`)).status).toBe(200);
    } finally {
      await origin.shutdown();
      await repo.cleanup();
    }
  }, 120_000);

  it('the grace period covers the preStop sleep and the origin drain deadline', () => {
    const pod = one('Deployment').spec.template.spec;
    const [command, seconds] = container().lifecycle.preStop.exec.command as string[];
    expect(command).toBe('sleep');
    const configured = one('ConfigMap').data.TANDEM_DRAIN_TIMEOUT_MS as string | undefined;
    const drainMs = loadOriginConfig(configured ? { TANDEM_DRAIN_TIMEOUT_MS: configured } : {}, {
      repository: '/models',
      trustedKeysFile: '/k',
    }).drainTimeoutMs;
    expect(drainMs).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(seconds) + drainMs / 1000);
  });

  it('the container listens where the Dockerfile, the Service and the Ingress say', () => {
    const port = container().ports[0];
    expect(envOf().TANDEM_ORIGIN_PORT).toBe(String(port.containerPort));
    expect(envOf().TANDEM_ORIGIN_HOST).toBe('0.0.0.0');
    expect(read('Dockerfile')).toMatch(new RegExp(`^EXPOSE ${port.containerPort}$`, 'm'));
    const service = one('Service');
    expect([port.name, port.containerPort]).toContain(service.spec.ports[0].targetPort);
    const backend = one('Ingress').spec.rules[0].http.paths[0].backend.service;
    expect(backend.name).toBe(service.metadata.name);
    expect(backend.port.name).toBe(service.spec.ports[0].name);
  });

  it('selectors, the HPA target and the PDB all name the origin pods', () => {
    const deployment = one('Deployment');
    const labels = deployment.spec.template.metadata.labels as Record<string, string>;
    const matches = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(matches(deployment.spec.selector.matchLabels)).toBe(true);
    expect(matches(one('Service').spec.selector)).toBe(true);
    expect(matches(one('PodDisruptionBudget').spec.selector.matchLabels)).toBe(true);
    const target = one('HorizontalPodAutoscaler').spec.scaleTargetRef;
    expect(target).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(one('HorizontalPodAutoscaler').spec.minReplicas).toBeGreaterThan(one('PodDisruptionBudget').spec.maxUnavailable);
  });

  it('names only settings the origin reads, with values it accepts', () => {
    const known = new Set([...read('origin/config.ts').matchAll(/env\.(TANDEM_[A-Z_]+)/g)].map((m) => m[1]));
    const configMap = one('ConfigMap').data as Record<string, string>;
    const secret = one('Secret').stringData as Record<string, string>;
    const names = [...Object.keys(configMap).filter((k) => k.startsWith('TANDEM_')), ...Object.keys(envOf()), ...Object.keys(secret)];
    expect(names.length).toBeGreaterThan(8);
    for (const name of names) expect(known, name).toContain(name);
    // The same settings the pod will see, through the origin's own parser.
    const env = { ...Object.fromEntries(Object.entries(configMap).filter(([k]) => k.startsWith('TANDEM_'))), ...secret, ...envOf() };
    const config = loadOriginConfig(env, { repository: '/x', trustedKeysFile: '/x' });
    expect(config.port).toBe(container().ports[0].containerPort);
    // onnxruntime threads per run within the CPU limit.
    expect(config.intraOpThreads).toBeGreaterThan(0);
    expect(config.intraOpThreads).toBeLessThanOrEqual(Number(container().resources.limits.cpu));
  });

  it('mounts the trusted keys where TANDEM_TRUSTED_KEYS_FILE points, from a valid key set', async () => {
    const mount = (container().volumeMounts as { name: string; mountPath: string }[]).find((m) => m.name === 'trusted-keys')!;
    const volume = (
      one('Deployment').spec.template.spec.volumes as { name: string; configMap: { name: string; items: { key: string; path: string }[] } }[]
    ).find((v) => v.name === 'trusted-keys')!;
    expect(volume.configMap.name).toBe(one('ConfigMap').metadata.name);
    expect(`${mount.mountPath}/${volume.configMap.items[0]!.path}`).toBe(envOf().TANDEM_TRUSTED_KEYS_FILE);
    await expect(loadTrustedKeys(one('ConfigMap').data[volume.configMap.items[0]!.key])).resolves.toBeDefined();
  });

  it('runs as the Dockerfile non-root user with a read-only root and a writable /tmp', () => {
    const pod = one('Deployment').spec.template.spec;
    const [uid] = (read('Dockerfile').match(/^USER (\d+)/m) ?? [])[1]?.split(':') ?? [];
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: Number(uid) });
    expect(container().securityContext.readOnlyRootFilesystem).toBe(true);
    expect((container().volumeMounts as { mountPath: string }[]).map((m) => m.mountPath)).toContain('/tmp');
    expect(envOf().TANDEM_MODEL_REPOSITORY).toBe('/models');
  });

  it('scales on a queue-depth metric the origin exports and the adapter serves', () => {
    const metric = (one('HorizontalPodAutoscaler').spec.metrics as { type: string; pods?: { metric: { name: string } } }[]).find((m) => m.type === 'Pods')!
      .pods!.metric.name;
    expect(read('origin/metrics.ts')).toContain(`name: '${metric}'`);
    const adapter = parse(read('deploy/k8s/adapter/prometheus-adapter-values.yaml')) as { rules: { custom: { seriesQuery: string; name: { as: string } }[] } };
    expect(adapter.rules.custom.map((r) => r.name.as)).toContain(metric);
    expect(adapter.rules.custom[0]!.seriesQuery).toContain(metric);
    expect(K8S_DIR.endsWith(join('deploy', 'k8s'))).toBe(true);
  });
});
