/**
 * A 90/10 rollout as 200 installs live it, in Chromium against the real stack (origin, edge under
 * `wrangler dev`, the demo's dev server): each install is a fresh browser context, so its own IndexedDB
 * and its own persisted client id (client/client-id.ts), and the edge splits them by that id alone.
 * Every install loads the SDK on a blank page, loads mlp-classifier and runs it on the origin; then it
 * comes back (a reload of the same tab) and gets the same version again, this time on the device (WASM)
 * for the first few installs of each version and on the origin for the rest. So both versions show device
 * runs in the edge's telemetry metrics and origin runs in the origin's Prometheus metrics.
 *
 * The canary, 1.1.0, answers near-uniformly (./support/uniform-canary.ts): its top-class confidence is
 * about 0.1, under the record's `minMedianConfidence` 0.5. The edge cannot tell before `minSamples`
 * device runs carry a confidence, which the split above stays under. Then the canary's device installs
 * keep using it, their telemetry crosses `minSamples`, the edge zeroes the canary's weight by itself, and
 * every install that was on it gets the stable version on its next load. The same scenario over HTTP,
 * without a browser, is e2e/edge/rollout.test.ts. Durations are printed, not asserted.
 */
import type { BrowserContext } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { randomFloats } from '../origin/test-support.ts';
import { DEV_ADMIN_KEY } from '../stack/dev-credentials.ts';
import { pool, writeRollout } from './edge/support.ts';
import { WASM_ONLY } from './support/browser.ts';
import { useE2eSession } from './support/hooks.ts';
import { fromWire, SdkPage, toWire } from './support/sdk-page.ts';
import { uniformCanary } from './support/uniform-canary.ts';

const MODEL = 'mlp-classifier';
const STABLE = '1.0.0';
const CANARY = '1.1.0';
const INSTALLS = 200;
const CANARY_PERCENT = 10;
/** Installs loaded at once: each is a Chromium renderer, and the machine may have 2 cores. */
const CONCURRENCY = 4;
/** The first installs of each version to run on the device on their second visit; the others stay on the origin. */
const DEVICE_INSTALLS_PER_VERSION = 3;
const ROLLBACK = { maxErrorRate: 0.05, minMedianConfidence: 0.5, minSamples: 100 };
/**
 * Time allowed for the installs, and for the rollback: generous, because a machine shared with other work
 * took 4 to 8 s per install (4 at once) where an idle one takes far less. Durations are printed.
 */
const INSTALLS_TIMEOUT_MS = 1_800_000;
const ROLLBACK_TIMEOUT_MS = 600_000;

const session = useE2eSession({
  models: [MODEL],
  prepare: async (repo) => {
    await uniformCanary(repo, MODEL, STABLE, CANARY);
    await writeRollout(repo, {
      model: MODEL,
      version: 1,
      stable: STABLE,
      weights: { [STABLE]: 100 - CANARY_PERCENT, [CANARY]: CANARY_PERCENT },
      rollback: ROLLBACK,
    });
  },
});

/** One install: its browser context (profile) and what it was served. */
interface Install {
  index: number;
  context: BrowserContext;
  version: string;
  /** Where its second visit ran. */
  ranOn: 'device' | 'origin';
}

const admin = { authorization: `Bearer ${DEV_ADMIN_KEY}` };
const input = (seed: number) => ({ x: toWire({ dtype: 'float32', dims: [1, 256], data: randomFloats(256, seed) }) });

interface RolloutStatus {
  source: string;
  effective: Record<string, number>;
  zeroed: { version: string; cause: string; reason: string }[];
}

async function rolloutStatus(): Promise<RolloutStatus> {
  const res = await fetch(`${session.env.stack.edge.url}/v1/edge/rollout/${MODEL}`, { headers: admin });
  expect(res.status).toBe(200);
  return (await res.json()) as RolloutStatus;
}

/** Prometheus text's samples of `name`, with their labels. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out = [];
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    out.push({ labels, value: Number(match[3]) });
  }
  return out;
}

/** Per version of the model, the sum of `name`'s samples whose labels include `where`. */
function perVersion(text: string, name: string, where: Record<string, string>): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const s of samples(text, name)) {
    if (s.labels.model !== MODEL || !Object.entries(where).every(([k, v]) => s.labels[k] === v)) continue;
    sums[s.labels.version!] = (sums[s.labels.version!] ?? 0) + s.value;
  }
  return sums;
}

/** Device runs per version, as the SDKs' telemetry reached the edge. */
async function edgeDeviceRuns(): Promise<Record<string, number>> {
  const res = await fetch(`${session.env.stack.edge.url}/v1/edge/metrics`, { headers: admin });
  expect(res.status).toBe(200);
  return perVersion(await res.text(), 'tandem_edge_device_runs_total', { outcome: 'ok' });
}

/** Successful inference requests per version, as the origin counted them. */
async function originRuns(): Promise<Record<string, number>> {
  const res = await fetch(`${session.env.stack.origin.url}/metrics`);
  expect(res.status).toBe(200);
  return perVersion(await res.text(), 'tandem_origin_requests_total', { status: '200' });
}

/**
 * The app's SDK instance: WASM only on the device, and each device run's telemetry record sent as soon as
 * it is made (`maxBatch: 1`), and the install waits for the edge to take it before it leaves, so the
 * metrics this test reads are complete when it reads them (by default records wait for a batch, the
 * timer or page hide).
 */
const APP = { capabilities: WASM_ONLY, telemetry: { maxBatch: 1 } };

/** Opens the blank page in the install's context and makes the app's SDK instance. */
async function visit(context: BrowserContext): Promise<SdkPage> {
  const sdk = await SdkPage.open(context, session.env.stack.demoUrl, { blank: true });
  await sdk.createInstance('app', APP);
  return sdk;
}

/**
 * Resolves once the page's SDK has posted a telemetry batch and the edge accepted it (204), as the page's
 * own resource timing saw it.
 */
async function telemetrySent(sdk: SdkPage): Promise<void> {
  await sdk.page.waitForFunction(
    () =>
      performance
        .getEntriesByType('resource')
        .some((e) => new URL(e.name).pathname === '/v1/telemetry' && (e as PerformanceResourceTiming).responseStatus === 204),
    undefined,
    { timeout: 60_000, polling: 100 },
  );
}

/** Loads the model where asked and runs it once; returns the version loaded, after checking the run agrees. */
async function loadAndRun(sdk: SdkPage, where: 'device' | 'origin', seed: number): Promise<string> {
  // `variant` names the device variant; on the origin the version's origin variant (fp32) runs.
  const loaded = await sdk.load('app', MODEL, 'int8', where === 'device' ? 'device-only' : 'origin-only');
  if (!loaded.ok) throw new Error(`load on the ${where} failed: ${loaded.code}: ${loaded.message}`);
  const run = await sdk.run('app', MODEL, 'int8', input(seed));
  if (!run.ok) throw new Error(`run on the ${where} failed: ${run.code}: ${run.message}`);
  expect({ ranOn: run.value.ranOn, version: run.value.version }).toEqual({ ranOn: where, version: loaded.value.version });
  return loaded.value.version;
}

/**
 * Closes the page; after device runs, leaves it first, so the SDK sends the telemetry it holds (on
 * `pagehide`, with keepalive), as an app's tab does when the user goes elsewhere.
 */
async function leave(sdk: SdkPage, ranOn: 'device' | 'origin'): Promise<void> {
  if (ranOn === 'device') await sdk.page.goto('about:blank');
  await sdk.page.close();
}

const installs: Install[] = [];

describe(`a ${100 - CANARY_PERCENT}/${CANARY_PERCENT} rollout across ${INSTALLS} installs in Chromium`, () => {
  it(
    'splits fresh installs within binomial tolerance; each keeps its version on reload; both versions run on device and origin',
    async () => {
      await expect.poll(async () => (await rolloutStatus()).effective, { timeout: 30_000, interval: 250 }).toEqual({ [STABLE]: 90, [CANARY]: 10 });
      const onDevice: Record<string, number> = {};
      const started = performance.now();
      const served = await pool(INSTALLS, CONCURRENCY, async (index): Promise<Install> => {
        const context = await session.browser.newContext();
        // First visit: the manifest the edge chose for this install's fresh id, and a run on the origin.
        const sdk = await visit(context);
        const version = await loadAndRun(sdk, 'origin', index * 2 + 1);
        // Second visit, same profile: the same version, on the device for the first few installs of each.
        await sdk.reload();
        await sdk.createInstance('app', APP);
        const ranOn: Install['ranOn'] = (onDevice[version] ?? 0) < DEVICE_INSTALLS_PER_VERSION ? 'device' : 'origin';
        if (ranOn === 'device') onDevice[version] = (onDevice[version] ?? 0) + 1;
        expect(await loadAndRun(sdk, ranOn, index * 2 + 2), `install ${index} on its second visit`).toBe(version);
        if (ranOn === 'device') await telemetrySent(sdk);
        await leave(sdk, ranOn);
        const install = { index, context, version, ranOn };
        // Only the canary's installs come back later; the others' profiles go.
        if (version !== CANARY) await context.close();
        return install;
      });
      installs.push(...served);
      const seconds = (performance.now() - started) / 1000;
      const canaries = installs.filter((i) => i.version === CANARY).length;
      console.log(
        `${INSTALLS} installs (2 visits each, ${CONCURRENCY} at once) in ${seconds.toFixed(1)} s (${((seconds * 1000) / INSTALLS).toFixed(0)} ms each); ` +
          `${canaries} on ${CANARY}, device installs ${JSON.stringify(onDevice)}`,
      );

      // Each install's version is a fair draw (its id is a random UUID, hashed into 10,000 buckets), so the
      // canary count is Binomial(n, p): accept the mean ± 3 standard deviations (about 20 ± 12.7 here; a
      // correct edge falls outside with probability about 0.3 %).
      const p = CANARY_PERCENT / 100;
      const mean = INSTALLS * p;
      const sigma = Math.sqrt(INSTALLS * p * (1 - p));
      expect(canaries).toBeGreaterThanOrEqual(Math.ceil(mean - 3 * sigma));
      expect(canaries).toBeLessThanOrEqual(Math.floor(mean + 3 * sigma));
      expect(onDevice).toEqual({ [STABLE]: DEVICE_INSTALLS_PER_VERSION, [CANARY]: DEVICE_INSTALLS_PER_VERSION });

      // Both versions' runs in the metrics: device runs from telemetry at the edge, origin runs at the origin.
      // Every install ran once on the origin; the canary's device runs stay under minSamples, so no verdict yet.
      await expect
        .poll(edgeDeviceRuns, { timeout: 30_000, interval: 500 })
        .toEqual({ [STABLE]: DEVICE_INSTALLS_PER_VERSION, [CANARY]: DEVICE_INSTALLS_PER_VERSION });
      const origin = await originRuns();
      expect(origin[STABLE]).toBeGreaterThanOrEqual(INSTALLS - canaries);
      expect(origin[CANARY]).toBeGreaterThanOrEqual(canaries);
      const status = await rolloutStatus();
      expect(status.effective).toEqual({ [STABLE]: 90, [CANARY]: 10 });
      expect(status.zeroed).toEqual([]);
    },
    INSTALLS_TIMEOUT_MS,
  );

  it(
    'rolls the canary back by itself once its answers are judged bad, and its installs get the stable version on their next load',
    async () => {
      const canaryInstalls = installs.filter((i) => i.version === CANARY);
      const canaryDevices = canaryInstalls.filter((i) => i.ranOn === 'device');
      expect(canaryDevices).toHaveLength(DEVICE_INSTALLS_PER_VERSION);
      // The canary's device installs keep using it until its device runs reach minSamples.
      const runsEach = Math.ceil(ROLLBACK.minSamples / canaryDevices.length);
      const started = performance.now();
      const confidences: number[] = [];
      for (const install of canaryDevices) {
        const sdk = await visit(install.context);
        expect(await loadAndRun(sdk, 'device', 1_000 + install.index)).toBe(CANARY);
        for (let r = 0; r < runsEach; r++) {
          const run = await sdk.run('app', MODEL, 'int8', input(10_000 * install.index + r));
          if (!run.ok) throw new Error(`run failed: ${run.code}: ${run.message}`);
          expect(run.value.version).toBe(CANARY);
          confidences.push(Math.max(...(fromWire(run.value.outputs.probabilities!).data as Float32Array)));
        }
        await leave(sdk, 'device');
      }
      // The canary's answers: near-uniform over 10 classes, every one below the threshold.
      expect(Math.max(...confidences)).toBeLessThan(ROLLBACK.minMedianConfidence);

      await expect
        .poll(async () => (await rolloutStatus()).zeroed, { timeout: 30_000, interval: 250 })
        .toEqual([
          expect.objectContaining({
            version: CANARY,
            cause: 'rolled_back',
            reason: expect.stringMatching(/^median top-class confidence 0\.\d+ < minMedianConfidence 0\.5 over \d+ runs/),
          }),
        ]);
      const status = await rolloutStatus();
      expect(status.effective).toEqual({ [STABLE]: 100, [CANARY]: 0 });
      const metrics = await (await fetch(`${session.env.stack.edge.url}/v1/edge/metrics`, { headers: admin })).text();
      expect(metrics).toContain(`tandem_edge_rollout_rollbacks_total{model="${MODEL}",version="${CANARY}"} 1`);
      const judged = (performance.now() - started) / 1000;

      // Every install that was on the canary, on its next load (a new page in its own profile): the stable version.
      const moved = await pool(canaryInstalls.length, CONCURRENCY, async (i) => {
        const install = canaryInstalls[i]!;
        const sdk = await visit(install.context);
        const version = await loadAndRun(sdk, install.ranOn, 20_000 + install.index);
        await leave(sdk, install.ranOn);
        await install.context.close();
        return version;
      });
      expect(moved).toEqual(canaryInstalls.map(() => STABLE));
      console.log(
        `rollback: ${canaryDevices.length}×${runsEach} canary device runs and the verdict in ${judged.toFixed(1)} s (${status.zeroed[0]?.reason}); ` +
          `${moved.length} canary installs moved to ${STABLE} in ${((performance.now() - started) / 1000 - judged).toFixed(1)} s`,
      );
    },
    ROLLBACK_TIMEOUT_MS,
  );
});
