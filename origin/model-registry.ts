/**
 * The models the origin serves, by id and version, with one current version per id.
 *
 * Loading a version verifies its signed manifest and the origin-tier artifact's SHA-256 before
 * onnxruntime sees a byte, checks the model's own signature against the manifest, and warms up
 * (`warm-up.ts`): on the manifest's signed examples when it has some, else on a synthetic input. A version
 * that fails any step is refused, kept with its reason for readiness, and never served; only a failed
 * synthetic warm-up is a warning (`warmup_failed`), since a foreign model may rightly reject a guessed
 * input. Hot swap: a new version is loaded beside the current one and then made current in one
 * assignment; the old version's queued and running requests finish on it, then its session is released.
 *
 * Which version is current: the one an operator chose last (`swap`, recorded in the repository by
 * chosen-version.ts, so a rollback survives a restart) once it is loaded, else the newest valid one.
 */
import { join } from 'node:path';
import { TandemError, toTandemError } from '../protocol/errors.ts';
import type { TrustedKeySet } from '../protocol/keys.ts';
import { variantForTier, type Manifest, type ManifestVariant } from '../protocol/manifest.ts';
import { versionKey } from '../protocol/repository-layout.ts';
import { tensorsByName, type Tensor } from '../protocol/tensor.ts';
import { compareVersions } from '../protocol/versions.ts';
import { readChosenVersion, writeChosenVersion } from './chosen-version.ts';
import { verifyArtifactFile, verifyModelDirectory } from './verify-version.ts';
import { concatRows, splitRows } from '../protocol/batch-rows.ts';
import { DynamicBatcher, type BatchItem } from './batcher.ts';
import type { BatchingConfig } from './config.ts';
import { checkSignature, openSession, RunRejected, type ModelSession } from './ort-session.ts';
import { warmUp } from './warm-up.ts';

/** One request's share of a batch: its inputs and the outputs it wants. */
export interface BatchInput {
  inputs: Record<string, Tensor>;
  outputs: readonly string[];
}

export interface BatchOutput {
  outputs: Record<string, Tensor>;
  /** Rows in the batch this request ran in. */
  batchSize: number;
  queueMs: number;
  computeMs: number;
}

export interface ServedModel {
  id: string;
  version: string;
  manifest: Manifest;
  variant: ManifestVariant;
  session: ModelSession;
  batcher: DynamicBatcher<BatchInput, BatchOutput>;
  loadSeconds: number;
  /** Hex SHA-256 of the signed manifest's payload: what a timestamp record names. */
  payloadSha256: string;
}

/** What the update framework is asked about a version (origin/trust/): its verified manifest and digest. */
export type Admission = Pick<ServedModel, 'id' | 'version' | 'manifest' | 'payloadSha256'>;

export interface RefusedModel {
  id: string;
  version: string;
  dir: string;
  code: string;
  reason: string;
}

export interface RegistryOptions {
  repository: string;
  trusted: () => TrustedKeySet;
  /**
   * Whether a verified version may be served now (origin/trust/: expiry, revocation, release); throws the
   * refusal. Asked before a version loads and again when a loaded one is made current.
   */
  admit?: (model: Admission) => Promise<void> | void;
  batching: (modelId: string) => BatchingConfig;
  intraOpThreads: number;
  ortSpinning: boolean;
  /** Called with each batch actually run, for metrics. A throw is reported (`batch_metrics_failed`), never fails the batch. */
  onBatch?: (model: ServedModel, rows: number, computeMs: number, items: readonly BatchInput[], outputs: Record<string, Tensor>) => void;
  /**
   * Lifecycle events: `model_loaded`, `model_current`, `model_refused`, `model_unloaded`, and the warnings
   * `warmup_failed` (served anyway), `batch_metrics_failed`, `chosen_version_unreadable` (the recorded
   * choice is ignored) and `chosen_version_unsaved` (a swap that will not survive a restart). Also
   * `batch_split`: a merged run failed on onnxruntime's side and its requests were run again apart, so
   * only those that fail alone fail (once per batch, with the re-runs it took).
   */
  onEvent?: (event: string, fields: Record<string, unknown>) => void;
}

export class ModelRegistry {
  private readonly versions = new Map<string, ServedModel>();
  private readonly current = new Map<string, string>();
  private readonly refusals = new Map<string, RefusedModel>();
  private readonly loading = new Map<string, Promise<ServedModel>>();
  /** The operator's recorded choice per model, read once (undefined: none). */
  private readonly chosen = new Map<string, Promise<string | undefined>>();

  constructor(private readonly options: RegistryOptions) {}

  /** Every served version. */
  list(): ServedModel[] {
    return [...this.versions.values()];
  }

  refused(): RefusedModel[] {
    return [...this.refusals.values()];
  }

  currentVersion(id: string): string | undefined {
    return this.current.get(id);
  }

  /** The version an operator chose for `id` (recorded in the repository), if any. */
  chosenVersion(id: string): Promise<string | undefined> {
    let pending = this.chosen.get(id);
    if (!pending) {
      pending = readChosenVersion(this.options.repository, id).catch((err: unknown) => {
        this.options.onEvent?.('chosen_version_unreadable', { model: id, reason: toTandemError(err).message });
        return undefined;
      });
      this.chosen.set(id, pending);
    }
    return pending;
  }

  /**
   * The version that answers `id` (current unless `version` is given).
   * @throws TandemError `model_not_found`
   */
  resolve(id: string, version?: string): ServedModel {
    const chosen = version ?? this.current.get(id);
    const model = chosen === undefined ? undefined : this.versions.get(versionKey(id, chosen));
    if (!model) {
      const refusal = chosen === undefined ? this.refused().find((r) => r.id === id) : this.refusals.get(versionKey(id, chosen));
      if (refusal) {
        throw new TandemError('model_not_ready', `model ${id} version ${refusal.version} was refused: ${refusal.code}: ${refusal.reason}`);
      }
      throw new TandemError('model_not_found', version ? `model ${id} has no version ${version}` : `no model named ${id}`);
    }
    return model;
  }

  /**
   * Loads the version in `<repository>/<id>/<version>`; makes it current when `makeCurrent` is set, when
   * it is the operator's chosen version, or when it is newer than the current one and that is not the
   * chosen one. Concurrent loads of one version share one promise.
   */
  async load(id: string, version: string, options: { makeCurrent?: boolean } = {}): Promise<ServedModel> {
    const key = versionKey(id, version);
    const existing = this.versions.get(key);
    let model: ServedModel;
    if (existing) {
      try {
        await this.options.admit?.(existing);
      } catch (err) {
        throw await this.withdraw(id, version, err);
      }
      model = existing;
    } else {
      let pending = this.loading.get(key);
      if (!pending) {
        pending = this.loadVersion(id, version).finally(() => this.loading.delete(key));
        this.loading.set(key, pending);
      }
      model = await pending;
    }
    const chosen = await this.chosenVersion(id);
    const currentVersion = this.current.get(id);
    const newer = currentVersion === undefined || compareVersions(version, currentVersion) > 0;
    if (options.makeCurrent || version === chosen || (newer && (chosen === undefined || currentVersion !== chosen))) {
      this.current.set(id, version); // The swap: one assignment, seen by every request that resolves after it.
      this.options.onEvent?.('model_current', { model: id, version, previous: currentVersion ?? null });
    }
    return model;
  }

  /**
   * Stops serving a version: new requests no longer resolve to it, queued and running ones finish, then
   * the session is released. Refuses to unload the current version while another exists to take over;
   * make that one current first.
   */
  async unload(id: string, version: string): Promise<void> {
    const key = versionKey(id, version);
    const model = this.versions.get(key);
    if (!model) throw new TandemError('model_not_found', `model ${id} has no loaded version ${version}`);
    if (this.current.get(id) === version) {
      const others = this.list().filter((m) => m.id === id && m.version !== version);
      const next = others.sort((a, b) => compareVersions(b.version, a.version))[0];
      if (next) this.current.set(id, next.version);
      else this.current.delete(id);
      // The choice follows: after a restart, the version serving now is the one that serves.
      if ((await this.chosenVersion(id)) === version) await this.choose(id, next?.version);
    }
    this.versions.delete(key);
    await model.batcher.close();
    await model.session.release();
    this.options.onEvent?.('model_unloaded', { model: id, version });
  }

  /**
   * Stops serving a version the update framework no longer allows (revoked, expired) and keeps it refused
   * with the reason, for readiness; queued and running requests finish as with `unload`.
   * @returns the refusal as a TandemError.
   */
  async withdraw(id: string, version: string, err: unknown): Promise<TandemError> {
    const error = toTandemError(err);
    const key = versionKey(id, version);
    if (this.versions.has(key)) await this.unload(id, version);
    this.refusals.set(key, { id, version, dir: join(this.options.repository, id, version), code: error.code, reason: error.message });
    this.options.onEvent?.('model_refused', { model: id, version, code: error.code, reason: error.message });
    return error;
  }

  /**
   * Swaps `id` to `version` (loading it if needed), records it as the operator's choice in the repository
   * so it stays current after a restart (a rollback to an older version included), then retires the
   * previous current version. `saved` is false when the record could not be written (a read-only
   * repository): the swap holds until the process restarts.
   */
  async swap(id: string, version: string): Promise<{ previous: string | undefined; saved: boolean }> {
    const previous = this.current.get(id);
    await this.load(id, version, { makeCurrent: true });
    const saved = await this.choose(id, version);
    if (previous !== undefined && previous !== version) await this.unload(id, previous);
    return { previous, saved };
  }

  /** Records the operator's choice (undefined: none); false, with a warning event, when it cannot be written. */
  private async choose(id: string, version: string | undefined): Promise<boolean> {
    this.chosen.set(id, Promise.resolve(version));
    try {
      await writeChosenVersion(this.options.repository, id, version);
      return true;
    } catch (err) {
      this.options.onEvent?.('chosen_version_unsaved', { model: id, version: version ?? null, reason: toTandemError(err).message });
      return false;
    }
  }

  /** Closes every batcher (draining its queue) and releases every session. */
  async close(): Promise<void> {
    await Promise.all(this.list().map((m) => m.batcher.close()));
    await Promise.all(this.list().map((m) => m.session.release()));
    this.versions.clear();
    this.current.clear();
  }

  private async loadVersion(id: string, version: string): Promise<ServedModel> {
    const key = versionKey(id, version);
    const dir = join(this.options.repository, id, version);
    const started = performance.now();
    try {
      const { manifest, payloadSha256 } = await verifyModelDirectory(dir, this.options.trusted(), { artifacts: false });
      if (manifest.id !== id || manifest.version !== version) {
        throw new TandemError('manifest_invalid', `manifest names ${manifest.id}@${manifest.version}, directory is ${id}/${version}`);
      }
      await this.options.admit?.({ id, version, manifest, payloadSha256 });
      const variant = variantForTier(manifest, 'origin');
      if (!variant) throw new TandemError('manifest_invalid', 'the manifest has no origin-tier variant');
      const bytes = await verifyArtifactFile(join(dir, variant.artifact.path), variant);
      const session = await openSession(bytes, {
        intraOpThreads: this.options.intraOpThreads,
        spinning: this.options.ortSpinning,
        lanes: this.options.batching(id).concurrency,
      });
      try {
        checkSignature(session, variant.inputs, variant.outputs);
        const report = await warmUp(session, dir, manifest, variant);
        if (report.kind === 'synthetic' && report.failure) {
          this.options.onEvent?.('warmup_failed', {
            model: id,
            version,
            code: report.failure.code,
            reason: `synthetic warm-up (zeros, dynamic dims 1) failed; serving anyway, sign examples into the manifest to check real inputs at load: ${report.failure.message}`,
          });
        }
      } catch (err) {
        await session.release();
        throw err;
      }
      const model = { id, version, manifest, variant, session, loadSeconds: 0, payloadSha256 } as ServedModel;
      model.batcher = new DynamicBatcher<BatchInput, BatchOutput>(
        {
          ...this.options.batching(id),
          splittable: isRunRejection,
          onSplit: (split) =>
            this.options.onEvent?.('batch_split', {
              model: id,
              version,
              requests: split.members,
              reruns: split.reruns,
              failed_alone: split.isolated,
              reason: toTandemError(split.error).message,
            }),
        },
        (items) => this.runBatch(model, items),
      );
      model.loadSeconds = (performance.now() - started) / 1000;
      this.versions.set(key, model);
      this.refusals.delete(key);
      this.options.onEvent?.('model_loaded', { model: id, version, variant: variant.name, load_seconds: model.loadSeconds });
      return model;
    } catch (err) {
      const error = toTandemError(err);
      this.refusals.set(key, { id, version, dir, code: error.code, reason: error.message });
      this.options.onEvent?.('model_refused', { model: id, version, code: error.code, reason: error.message });
      throw error;
    }
  }

  private async runBatch(model: ServedModel, items: readonly BatchItem<BatchInput>[]): Promise<BatchOutput[]> {
    const started = performance.now();
    const inputs = tensorsByName();
    for (const spec of model.variant.inputs) inputs[spec.name] = concatRows(items.map((i) => i.input.inputs[spec.name]!));
    const wanted = [...new Set(items.flatMap((i) => i.input.outputs))];
    // With more than one request the batch's inputs are fresh copies (concatRows): they move to the session
    // thread. A lone request's tensors are views into its body, and are copied.
    const outputs = await model.session.run(inputs, wanted, { transfer: items.length > 1 });
    const computeMs = performance.now() - started;
    const rows = items.map((i) => i.rows);
    const totalRows = rows.reduce((a, b) => a + b, 0);
    const pieces = tensorsByName<Tensor[]>();
    for (const [name, tensor] of Object.entries(outputs)) pieces[name] = items.length === 1 ? [tensor] : splitRows(tensor, rows);
    try {
      this.options.onBatch?.(
        model,
        totalRows,
        computeMs,
        items.map((i) => i.input),
        outputs,
      );
    } catch (err) {
      this.options.onEvent?.('batch_metrics_failed', { model: model.id, version: model.version, reason: toTandemError(err).message });
    }
    return items.map((item, index) => {
      const mine = tensorsByName();
      for (const name of item.input.outputs) mine[name] = pieces[name]![index]!;
      return { outputs: mine, batchSize: totalRows, queueMs: started - item.enqueuedAt, computeMs };
    });
  }
}

/**
 * Whether onnxruntime rejected a run itself (ort-session.ts `RunRejected`): the one failure a request's
 * own data can cause, so the only one worth running a batch's requests apart for. A session thread that
 * crashed or exited, or inputs that could not reach it, fail any split the same way.
 */
function isRunRejection(error: unknown): boolean {
  return error instanceof RunRejected;
}
