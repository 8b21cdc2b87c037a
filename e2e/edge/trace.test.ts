/**
 * One trace through all three tiers (issue 16): the SDK's origin client, in Node, runs a model through
 * the real edge (`wrangler dev`) to a real origin process with the `traceparent` a run makes
 * (client/model.ts: a new trace, or a span of the app's); its trace id must appear in the edge's request
 * log line and the origin's, each with a span of its own, chained parent to child, beside the one request
 * id. (That `RunResult.traceId` is this trace id is client/tandem.test.ts's.) Then device-run telemetry
 * sent by the SDK's transport must show in the edge's Prometheus metrics.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTelemetry } from '../../client/adapters/telemetry-transport.ts';
import { DEFAULT_RETRY } from '../../client/core/retry.ts';
import { createOriginClient, type OriginClient } from '../../client/origin-client.ts';
import { INFER_TOKEN, readVerifiedManifest, signedRepository, type TestRepository } from '../../origin/test-support.ts';
import type { Manifest } from '../../protocol/manifest.ts';
import { continueTrace, formatTraceparent, parseTraceparent } from '../../protocol/traceparent.ts';
import { startEdge, type RunningEdge } from '../../stack/edge-process.ts';
import { spawnOrigin, type OriginProcess } from '../../stack/origin-process.ts';

const KEYS = { infer: 'trace-infer', admin: 'trace-admin' };
const MODEL = 'mlp-classifier';

let repo: TestRepository;
let origin: OriginProcess;
let edge: RunningEdge;
let sdk: OriginClient;
let manifest: Manifest;
const edgeLines: Record<string, unknown>[] = [];
const originLines: Record<string, unknown>[] = [];

const collect = (into: Record<string, unknown>[]) => (line: string) => {
  if (!line.startsWith('{')) return;
  try {
    into.push(JSON.parse(line) as Record<string, unknown>);
  } catch {
    // A partial line.
  }
};

beforeAll(async () => {
  repo = await signedRepository([MODEL]);
  origin = await spawnOrigin({
    repository: repo.repository,
    env: { TANDEM_TRUSTED_KEYS: repo.trustedKeys, TANDEM_ORIGIN_TOKEN: INFER_TOKEN, TANDEM_ADMIN_TOKEN: 'trace-admin-origin', TANDEM_INTRA_OP_THREADS: '1' },
    onLine: collect(originLines),
  });
  edge = await startEdge({
    origins: [origin.url],
    repository: repo.repository,
    trustedKeys: repo.trustedKeys,
    originToken: INFER_TOKEN,
    apiKeys: [
      { name: 'infer', key: KEYS.infer, scopes: ['infer', 'catalog'], ratePerSecond: 1000, burst: 1000 },
      { name: 'admin', key: KEYS.admin, scopes: ['admin'] },
    ],
    onLine: collect(edgeLines),
  });
  manifest = await readVerifiedManifest(repo, MODEL);
  sdk = createOriginClient({
    edge: edge.url,
    fetch: (input, init) => fetch(input, init),
    headers: async () => ({ authorization: `Bearer ${KEYS.infer}`, 'x-client-id': 'trace-test' }),
    breaker: { failureThreshold: 5, cooldownMs: 30_000 },
    online: () => true,
    retry: DEFAULT_RETRY,
    requestTimeoutMs: 30_000,
    now: () => performance.now(),
  });
});

afterAll(async () => {
  await edge?.stop();
  await origin?.stop();
  await repo?.cleanup();
});

describe('one trace from the SDK through the edge to the origin', () => {
  it("finds the run's trace id in the edge's and the origin's log lines, spans chained, with one request id", async () => {
    const appTrace = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    // As model.run makes them: a new trace, and a span of the app's trace.
    const spans = [continueTrace(), continueTrace(parseTraceparent(appTrace))];
    const runs: { traceId: string; spanId: string }[] = [];
    for (const [i, span] of spans.entries()) {
      const answer = await sdk.infer(
        manifest,
        { x: { dtype: 'float32', dims: [1, 256], data: new Float32Array(256).fill(0.25 * (i + 1)) } },
        undefined,
        undefined,
        formatTraceparent(span),
      );
      expect(answer.version).toBe('1.0.0');
      runs.push(span);
    }
    expect(runs[1]!.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    for (const run of runs) {
      const edgeLine = await vi.waitFor(
        () => {
          const line = edgeLines.find((l) => l.trace_id === run.traceId && String(l.path).endsWith('/infer'));
          expect(line).toBeDefined();
          return line!;
        },
        { timeout: 10_000 },
      );
      const originLine = await vi.waitFor(
        () => {
          const line = originLines.find((l) => l.trace_id === run.traceId);
          expect(line).toBeDefined();
          return line!;
        },
        { timeout: 10_000 },
      );
      // One request id across the tiers, and the origin's span is a child of the edge's.
      expect(originLine.request_id).toBe(edgeLine.request_id);
      expect(edgeLine).toMatchObject({ status: 200, model: MODEL });
      expect(originLine).toMatchObject({ status: 200, path: `/v2/models/${MODEL}/versions/1.0.0/infer` });
      expect(originLine.parent_span_id).toBe(edgeLine.span_id);
      expect(edgeLine.parent_span_id).toBe(run.spanId); // the SDK's span
      expect(edgeLine.span_id).not.toBe(run.spanId);
    }
    // Each run is its own trace (unless the app says otherwise).
    expect(new Set(runs.map((r) => r.traceId)).size).toBe(2);
  });

  it("counts device-run telemetry sent by the SDK's transport, per model, version and variant", async () => {
    const running = startTelemetry(
      { maxBatch: 2, maxQueue: 10, flushIntervalMs: 60_000 },
      { edge: edge.url, fetch: (input, init) => fetch(input, init), headers: async () => ({ authorization: `Bearer ${KEYS.infer}` }) },
    );
    const variant = manifest.variants.find((v) => v.tier === 'device')!;
    const logits = { dtype: 'float32' as const, dims: [1, 10], data: new Float32Array(10).fill(0) };
    running.record({ manifest, variant, backend: 'wasm', latencyMs: 3, outcome: 'ok', fallback: false, outputs: { [variant.outputs[0]!.name]: logits } });
    running.record({ manifest, variant, backend: 'webgpu', latencyMs: 30, outcome: 'inference_failed', fallback: true });
    await vi.waitFor(() => expect(running.telemetry.counts()).toMatchObject({ sent: 2, dropped: 0 }), { timeout: 10_000 });
    running.close();
    const text = await (await fetch(`${edge.url}/v1/edge/metrics`, { headers: { authorization: `Bearer ${KEYS.admin}` } })).text();
    const labels = `model="${MODEL}",version="1.0.0",variant="${variant.name}"`;
    expect(text).toContain(`tandem_edge_device_runs_total{${labels},backend="wasm",outcome="ok",fallback="false"} 1`);
    expect(text).toContain(`tandem_edge_device_runs_total{${labels},backend="webgpu",outcome="inference_failed",fallback="true"} 1`);
    expect(text).toContain(`tandem_edge_device_top_class_confidence_bucket{${labels},le="0.1"} 1`); // ten equal logits: 0.1
    expect(edgeLines).toContainEqual(expect.objectContaining({ route: '/v1/telemetry', status: 204, records: 2 }));
  });
});
