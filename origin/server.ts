/**
 * Starts the origin: reads trusted keys, or, when the repository has a root of trust, verifies it against
 * the pinned root keys and takes the release keys and the timestamp record from it (origin/trust/); loads
 * and verifies every model in the repository, re-checks them periodically (expiry, revocation), listens on
 * @hono/node-server, and shuts down gracefully: on SIGTERM readiness turns false, new requests are
 * refused with 503 and every response says `Connection: close`, idle connections close at their
 * keep-alive timeout, queued and running inference finishes without waiting for batches to fill, and
 * once the last connection is gone the sessions are released and the process exits 0 (or 1 if the
 * drain deadline passes first).
 */
import { getRequestListener } from '@hono/node-server';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import { pino } from 'pino';
import { TandemError, toTandemError } from '../protocol/errors.ts';
import { loadTrustedKeys, type TrustedKeySet } from '../protocol/keys.ts';
import { listModelVersions } from './repository.ts';
import { createOriginApp, type Logger, type OriginState } from './app.ts';
import { answerUnmetExpectation, clientErrorFor, lacksRequiredHost, rawErrorResponse, requestErrorResponse, writeErrorResponse } from './client-error.ts';
import { batchingFor, DEV_ADMIN_TOKEN, DEV_TOKEN, type OriginConfig } from './config.ts';
import { createOriginMetrics, servedLabels, topClassConfidences } from './metrics.ts';
import { ModelRegistry, type BatchInput, type ServedModel } from './model-registry.ts';
import type { Tensor } from '../protocol/tensor.ts';
import { RepositoryTrust } from './trust/repository-trust.ts';
import { admission, TrustWatch } from './trust/trust-watch.ts';
import { readTextIfPresent } from './read-if-present.ts';

export interface RunningOrigin {
  url: string;
  port: number;
  registry: ModelRegistry;
  state: OriginState;
  /** Drains and stops; resolves true if everything finished within the drain deadline. */
  shutdown(): Promise<boolean>;
}

export interface StartOptions {
  logger?: Logger;
  /** Install SIGTERM/SIGINT handlers that drain and exit (the CLI does; tests don't). */
  handleSignals?: boolean;
  processMetrics?: boolean;
}

export async function startOrigin(config: OriginConfig, options: StartOptions = {}): Promise<RunningOrigin> {
  // Asynchronous writes: a synchronous stdout write per request costs the event loop ~0.2 ms.
  const logger = options.logger ?? pino({ base: { service: 'tandem-origin' } }, pino.destination({ sync: false }));
  const metrics = createOriginMetrics({ processMetrics: options.processMetrics ?? true });
  const trust = await openTrust(config, logger);
  // With a root, the release keys come from it and TANDEM_TRUSTED_KEYS is not read.
  const trusted = trust ? undefined : await readTrusted(config);
  const state: OriginState = { draining: false };

  const registry = new ModelRegistry({
    repository: config.repository,
    trusted: () => trust?.releaseKeys() ?? trusted!,
    admit: admission(trust),
    batching: (id) => batchingFor(config, id),
    intraOpThreads: config.intraOpThreads,
    ortSpinning: config.ortSpinning,
    onBatch: (model, rows, computeMs, items, outputs) => recordBatch(metrics, model, rows, computeMs, items, outputs),
    onEvent: (event, fields) => {
      const level = event === 'model_refused' || event === 'warmup_failed' || event === 'batch_metrics_failed' ? 'warn' : 'info';
      logger[level]({ event, ...fields });
      const labels = { model: String(fields.model), version: String(fields.version) };
      if (event === 'warmup_failed') {
        metrics.warmupFailures.inc(labels);
      } else if (event === 'model_loaded') {
        metrics.modelLoadSeconds.set(labels, Number(fields.load_seconds));
        metrics.modelReady.set(labels, 1);
      } else if (event === 'model_refused' || event === 'model_unloaded') {
        metrics.modelReady.set(labels, 0);
      }
    },
  });
  for (const { id, version } of await listModelVersions(config.repository)) {
    await registry.load(id, version).catch(() => undefined); // Refusals are recorded and reported by readiness.
  }
  const watch = new TrustWatch({
    registry,
    repository: config.repository,
    trust,
    onError: (error) => logger.warn({ event: 'trust_check_failed', code: error.code, reason: error.message }),
  });
  await watch.recheck(true); // The record's current version of each model is current.
  watch.start(config.trustCheckMs);
  const queueGauge = setInterval(() => {
    for (const model of registry.list()) {
      metrics.queueDepth.set(servedLabels(model), model.batcher.stats().queuedRows);
    }
  }, 250);
  queueGauge.unref();

  const app = createOriginApp({ config, registry, metrics, logger, state });
  const server = await listen(app.fetch, config.host, config.port);
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host}:${port}`;
  // Which keys this origin trusts, and from where: a rotation or a wrong key file shows here first.
  const trustedFrom = config.trustedKeys !== undefined ? { from: 'TANDEM_TRUSTED_KEYS' } : { from: 'TANDEM_TRUSTED_KEYS_FILE', file: config.trustedKeysFile };
  const keys = trust?.releaseKeys() ?? trusted!;
  logger.info({
    event: 'listening',
    url,
    models: registry.list().map((m) => `${m.id}@${m.version}`),
    trusted_keys: {
      ...(trust ? { from: `root version ${trust.rootVersion()} (release role)` } : trustedFrom),
      keyids: [...keys.keys.keys()],
      threshold: keys.threshold,
    },
    ...(trust ? { root_of_trust: trust.status() } : {}),
  });

  let stopping: Promise<boolean> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      state.draining = true; // From here new inference gets 503 and every response `Connection: close`.
      logger.info({ event: 'draining', deadline_ms: config.drainTimeoutMs });
      for (const model of registry.list()) model.batcher.flush();
      // Stop listening. Busy connections close after their response (`Connection: close`); a kept-alive
      // idle one is left to the keep-alive timeout every answer advertised (`Keep-Alive: timeout=5`),
      // before which clients retire it: closing it now would race a request a client may be sending on
      // it, which that client sees reset (found by the red team, e2e/redteam/drain.ts). A request that
      // does come on it gets 503 `shutting_down` and the connection closes. (http.Server#close would
      // close idle connections at once; net.Server#close only stops listening.) Idle ones go at the
      // latest halfway to the deadline. Once none is left, everything admitted has been answered, and the
      // sessions can go.
      const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      const idleCloser = setTimeout(() => server.closeIdleConnections(), Math.min(server.keepAliveTimeout, config.drainTimeoutMs / 2)).unref();
      const drained = closed.then(() => registry.close()).then(() => true);
      const deadline = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), config.drainTimeoutMs).unref());
      const inTime = await Promise.race([drained, deadline]);
      clearTimeout(idleCloser);
      clearInterval(queueGauge);
      watch.stop();
      if (!inTime) server.closeAllConnections();
      logger.info({ event: 'stopped', drained: inTime });
      return inTime;
    })());

  if (options.handleSignals) {
    const onSignal = (signal: string) => {
      logger.info({ event: 'signal', signal });
      void shutdown().then((inTime) => {
        const exit = () => process.exit(inTime ? 0 : 1);
        if (logger.flush) logger.flush(exit);
        else exit();
      });
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  return { url, port, registry, state, shutdown };
}

/**
 * The repository's root of trust, verified against the pinned root keys; undefined without one. Without
 * pinned keys, root version 1 is trusted on first use only while the origin runs on dev tokens (it warns);
 * otherwise it refuses to start.
 */
async function openTrust(config: OriginConfig, logger: Logger): Promise<RepositoryTrust | undefined> {
  const pinned = await readRootKeys(config);
  const onEvent = (event: string, fields: Record<string, unknown>) => logger[event === 'trust_refused' ? 'warn' : 'info']({ event, ...fields });
  const trust = await RepositoryTrust.open({ repository: config.repository, pinned: pinned?.keys, onEvent });
  if (!trust) return undefined;
  if (pinned) {
    logger.info({ event: 'root_of_trust', root_keys_from: pinned.from, ...trust.status() });
    return trust;
  }
  const dev = config.inferenceToken === DEV_TOKEN || config.adminToken === DEV_ADMIN_TOKEN;
  const fix = 'set TANDEM_ROOT_KEYS or TANDEM_ROOT_KEYS_FILE to the root public keys your apps pin';
  if (!dev) throw new TandemError('key_invalid', `the model repository has a root of trust (_trust/root/1.dsse.json) but no root keys are pinned: ${fix}`);
  logger.warn({
    event: 'root_trusted_on_first_use',
    root_version: trust.rootVersion(),
    reason: `no root keys are pinned: root version 1 is trusted as found (dev tokens only); ${fix}`,
  });
  return trust;
}

/** The pinned root keys: TANDEM_ROOT_KEYS, else the file when it exists. */
async function readRootKeys(config: OriginConfig): Promise<{ keys: TrustedKeySet; from: string } | undefined> {
  if (config.rootKeys !== undefined) return { keys: await loadTrustedKeys(config.rootKeys), from: 'TANDEM_ROOT_KEYS' };
  if (config.rootKeysFile === undefined) return undefined;
  const text = await readTextIfPresent(config.rootKeysFile);
  return text === undefined ? undefined : { keys: await loadTrustedKeys(text), from: config.rootKeysFile };
}

async function readTrusted(config: OriginConfig): Promise<TrustedKeySet> {
  const source = config.trustedKeys ?? (await readFile(config.trustedKeysFile, 'utf8'));
  return loadTrustedKeys(source);
}

/**
 * An HTTP server for the app on @hono/node-server's request listener, whose every error answer carries
 * the documented body: requests the listener cannot build and requests Node's parser refuses included.
 */
function listen(fetch: (request: Request) => Response | Promise<Response>, hostname: string, port: number): Promise<Server> {
  const listener = getRequestListener(fetch, { hostname, errorHandler: requestErrorResponse });
  const server = createServer({ requireHostHeader: false }, (incoming, outgoing) => {
    if (!lacksRequiredHost(incoming)) return listener(incoming, outgoing);
    writeErrorResponse(outgoing, new TandemError('bad_request', 'malformed HTTP request: an HTTP/1.1 request needs a Host header'));
  });
  server.on('checkExpectation', answerUnmetExpectation); // Unhandled, Node answers a bare 417.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // As Node's own handler: write only on a socket that can still take a whole response.
    const inProgress = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) {
      socket.destroy();
      return;
    }
    socket.end(rawErrorResponse(clientErrorFor(err)));
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(toTandemError(err)));
    server.listen(port, hostname, () => resolve(server));
  });
}

/** Per-batch metrics: compute time, batch size, and the model-quality signals. */
function recordBatch(
  metrics: ReturnType<typeof createOriginMetrics>,
  model: ServedModel,
  rows: number,
  computeMs: number,
  items: readonly BatchInput[],
  outputs: Record<string, Tensor>,
): void {
  const series = metrics.served(model);
  const labels = series.labels;
  series.computeSeconds.observe(computeMs / 1000);
  series.batchSize.observe(rows);
  if (model.manifest.task === 'classification') {
    const logits = outputs[model.variant.outputs[0]!.name];
    if (logits && logits.dtype === 'float32') {
      const classes = logits.dims[logits.dims.length - 1] ?? 0;
      for (const confidence of topClassConfidences(logits.data as Float32Array, classes)) series.topConfidence.observe(confidence);
    }
  }
  for (const [input, reference] of Object.entries(model.manifest.dataReference?.inputs ?? {})) {
    let sum = 0;
    let count = 0;
    for (const item of items) {
      const t = item.inputs[input];
      if (!t || (t.dtype !== 'float32' && t.dtype !== 'float64')) continue;
      const data = t.data as Float32Array | Float64Array;
      for (let i = 0; i < data.length; i++) sum += data[i]!;
      count += data.length;
    }
    if (count > 0) metrics.observeDrift({ ...labels, input }, sum / count, reference);
  }
}
