/**
 * What keeps a running origin in line with its repository's update metadata: the check each version
 * passes before it loads or is made current (`admission`), and a periodic re-check (`TrustWatch`) that
 * withdraws versions that may no longer be served (a manifest or record past its expiry, a revocation, a
 * release key rotated out), loads again those a newer record allows, and, when the record changes, makes
 * its current version current (loading it from the repository when it is not loaded yet). An admin's hot
 * swap to another live version holds until the next record. Without a root in the repository only manifest expiry applies.
 */
import { listModelVersions, readEnvelope } from '../repository.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { TandemError, toTandemError } from '../../protocol/errors.ts';
import { modelRef } from '../../protocol/manifest.ts';
import { assertNotExpired } from '../../protocol/trust/bounds.ts';
import { verifyManifest } from '../../protocol/signed-manifest.ts';
import type { Admission, ModelRegistry } from '../model-registry.ts';
import { TRUST_CODES, type RepositoryTrust } from './repository-trust.ts';

/**
 * The registry's `admit`: the manifest's own expiry, then, with a root, what the record says.
 * @throws TandemError `metadata_expired`, `version_revoked`, `rollback_detected` or `manifest_signature_invalid`.
 */
export function admission(trust: RepositoryTrust | undefined, now: () => number = Date.now): (model: Admission) => Promise<void> {
  return async (model) => {
    if (model.manifest.expires !== undefined) assertNotExpired('manifest', modelRef(model.manifest), model.manifest.expires, now());
    if (!trust) return;
    await trust.refresh(); // A stat when nothing changed: a revocation written a moment ago is honoured.
    trust.check(model);
  };
}

export interface TrustWatchOptions {
  registry: ModelRegistry;
  repository: string;
  trust: RepositoryTrust | undefined;
  now?: () => number;
  /** Errors of a re-check itself (never a refusal, which the registry reports). */
  onError?: (error: TandemError) => void;
}

export class TrustWatch {
  private running: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly admit: (model: Admission) => Promise<void>;
  /**
   * The root version every loaded manifest was last verified against, and the root/record pair the last
   * run acted on. Kept here, not read off one `refresh`: an admission or a hot swap may refresh the trust
   * between two runs, and the change it saw must still be acted on.
   */
  private reverifiedRoot: number | undefined;
  private actedOn: string | undefined;

  constructor(private readonly options: TrustWatchOptions) {
    this.admit = admission(options.trust, options.now);
  }

  /** Re-checks every `intervalMs` until `stop`; the timer does not keep the process alive. */
  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.recheck().catch((err: unknown) => this.options.onError?.(toTandemError(err))), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * One re-check; concurrent calls share it.
   * @param followCurrent make the record's current version current even when the record did not change (at start).
   */
  recheck(followCurrent = false): Promise<void> {
    this.running ??= this.run(followCurrent).finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(followCurrent: boolean): Promise<void> {
    const { registry, trust } = this.options;
    await trust?.refresh();
    const rotated = trust !== undefined && trust.rootVersion() !== this.reverifiedRoot;
    const inForce = trust && `${trust.rootVersion()}/${trust.record()?.version}`;
    const changed = this.actedOn !== undefined && inForce !== this.actedOn;
    this.reverifiedRoot = trust?.rootVersion();
    this.actedOn = inForce;
    for (const model of registry.list()) {
      try {
        await this.admit(model);
        // A new root may have dropped the key that signed what is loaded: verify it again with the new keys.
        if (rotated) await this.reverify(model);
      } catch (err) {
        await registry.withdraw(model.id, model.version, err);
      }
    }
    if (!trust || (!changed && !followCurrent)) return;
    if (changed) {
      for (const refused of registry.refused()) {
        if (TRUST_CODES.has(refused.code)) await registry.load(refused.id, refused.version).catch(() => undefined);
      }
    }
    // The record's current version of each model it names and the repository holds (loaded if need be).
    const stored = new Set((await listModelVersions(this.options.repository)).map((e) => `${e.id}@${e.version}`));
    for (const [id, entry] of Object.entries(trust.record()?.models ?? {})) {
      if (registry.currentVersion(id) === entry.current || !stored.has(`${id}@${entry.current}`)) continue;
      await registry.load(id, entry.current, { makeCurrent: true }).catch(() => undefined);
    }
  }

  private async reverify(model: Admission): Promise<void> {
    const { payload } = await verifyManifest(await readEnvelope(this.options.repository, model.id, model.version), this.options.trust!.releaseKeys());
    if ((await sha256Hex(payload)) !== model.payloadSha256) {
      throw new TandemError('manifest_signature_invalid', `${model.id}@${model.version}: the manifest on disk is not the one loaded`);
    }
  }
}
