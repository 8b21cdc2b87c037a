/**
 * The stack the red team attacks, all on loopback: a signed model repository (mlp-classifier 1.0.0 and
 * 1.1.0, a 2.0.0 whose manifest was edited after signing so every tier refuses it, and shapes-cnn for
 * the overload), two origin processes and the edge under `wrangler dev` in front of them, with an
 * artifact whose bytes in R2 were swapped. Processes start through stack/origin-process.ts and
 * stack/edge-process.ts; this module knows which of them were stopped on purpose, so any other exit
 * counts as a crash, and reads their resident memory from /proc.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INFER_TOKEN, ADMIN_TOKEN, copyVersion, signedRepository, type TestRepository } from '../../origin/test-support.ts';
import { parseJsonLine } from '../../stack/child-process.ts';
import { startEdge, type RunningEdge } from '../../stack/edge-process.ts';
import { spawnOrigin as spawnOriginProcess, type OriginProcess } from '../../stack/origin-process.ts';
import { seed } from '../../stack/seed-r2.ts';
import { artifactObjectKey } from '../../worker/storage/layout.ts';
import { refusedVersion } from '../edge/support.ts';

export const KEYS = { infer: 'redteam-infer', admin: 'redteam-admin' } as const;
export { INFER_TOKEN, ADMIN_TOKEN };

export interface OriginSlot {
  name: string;
  process: OriginProcess;
  /** Set before a deliberate stop, so the exit is not a crash. */
  stopping: boolean;
}

export interface CorruptArtifact {
  sha256: string;
  bytes: Uint8Array;
  swapped: Uint8Array;
}

export class RedteamStack {
  readonly origins: OriginSlot[] = [];
  edge!: RunningEdge;
  /** Exits nobody asked for, by process name. */
  readonly crashes: string[] = [];
  readonly corrupt: CorruptArtifact;
  private edgeStopping = false;
  private readonly lineListeners = new Set<(origin: string, entry: Record<string, unknown>) => void>();

  private constructor(readonly repo: TestRepository) {
    const bytes = new Uint8Array(randomBytes(256 * 1024));
    const swapped = bytes.slice();
    swapped[swapped.length - 100] = 255 - bytes[bytes.length - 100]!;
    this.corrupt = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes, swapped };
  }

  static async start(log: (line: string) => void = () => undefined): Promise<RedteamStack> {
    const repo = await signedRepository(['mlp-classifier', 'shapes-cnn']);
    const stack = new RedteamStack(repo);
    try {
      await copyVersion(repo, 'mlp-classifier', '1.0.0', '1.1.0');
      await refusedVersion(repo, 'mlp-classifier', '1.0.0', '2.0.0');
      await Promise.all([stack.spawn('origin-a'), stack.spawn('origin-b')]);
      stack.edge = await startEdge({
        origins: stack.origins.map((o) => o.process.url),
        repository: repo.repository,
        trustedKeys: repo.trustedKeys,
        originToken: INFER_TOKEN,
        apiKeys: [
          { name: 'infer', key: KEYS.infer, scopes: ['infer', 'catalog'], ratePerSecond: 1_000_000, burst: 1_000_000 },
          { name: 'admin', key: KEYS.admin, scopes: ['admin'] },
        ],
        tuning: { readinessTtlMs: 1000, backoffBaseMs: 5, backoffCapMs: 50 },
        extraObjects: [{ key: artifactObjectKey(stack.corrupt.sha256), body: stack.corrupt.swapped }],
        logLevel: 'warn',
        // Without the DevTools inspector, as deployed: it costs every proxied request milliseconds.
        inspector: false,
      });
      void stack.edge.exited.then((code) => {
        if (!stack.edgeStopping) stack.crashes.push(`edge exited with ${code}`);
      });
      log(`stack: origins ${stack.origins.map((o) => o.process.url).join(', ')}, edge ${stack.edge.url}`);
      return stack;
    } catch (err) {
      await stack.stop();
      throw err;
    }
  }

  /** Starts (or restarts, on its old port) the origin named `name`. */
  async spawn(name: string, port = 0): Promise<OriginSlot> {
    const process = await spawnOriginProcess({
      name,
      port,
      repository: this.repo.repository,
      env: { TANDEM_TRUSTED_KEYS: this.repo.trustedKeys, TANDEM_ORIGIN_TOKEN: INFER_TOKEN, TANDEM_ADMIN_TOKEN: ADMIN_TOKEN, TANDEM_INTRA_OP_THREADS: '1' },
      onLine: (line) => {
        if (this.lineListeners.size === 0) return;
        const entry = parseJsonLine(line);
        if (entry) for (const listener of this.lineListeners) listener(name, entry);
      },
    });
    const slot: OriginSlot = { name, process, stopping: false };
    void process.exited.then((code) => {
      if (!slot.stopping) this.crashes.push(`${name} exited with ${code}`);
    });
    const i = this.origins.findIndex((o) => o.name === name);
    if (i >= 0) this.origins[i] = slot;
    else this.origins.push(slot);
    return slot;
  }

  /** Calls `listener` with every JSON log line of every origin until the returned function is called. */
  onOriginLog(listener: (origin: string, entry: Record<string, unknown>) => void): () => void {
    this.lineListeners.add(listener);
    return () => this.lineListeners.delete(listener);
  }

  origin(name: string): OriginSlot {
    const slot = this.origins.find((o) => o.name === name);
    if (!slot) throw new Error(`no origin ${name}`);
    return slot;
  }

  /** Stops an origin on purpose (SIGTERM drains it); resolves with its exit code. */
  async stopOrigin(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    const slot = this.origin(name);
    slot.stopping = true;
    await slot.process.stop(signal, 15_000);
    return slot.process.exited;
  }

  /** Writes an object into the running edge's local R2 (as an operator repairing a bad upload would). */
  async putObject(key: string, body: Uint8Array): Promise<void> {
    const args = this.edge.child.spawnargs;
    const persistTo = args[args.indexOf('--persist-to') + 1];
    if (!persistTo || args.indexOf('--persist-to') < 0) throw new Error('the edge was started without --persist-to');
    await seed({ repository: join(persistTo, 'no-repository'), persistTo, extra: [{ key, body }] });
  }

  /** Resident memory of the origins and the edge (wrangler, its proxy and workerd: the process group), MiB. */
  rss(): number {
    const origins = this.origins.filter((o) => o.process.child.exitCode === null).reduce((sum, o) => sum + rssMiB(o.process.pid), 0);
    return origins + groupRssMiB(this.edge.pid);
  }

  async stop(): Promise<void> {
    this.edgeStopping = true;
    for (const o of this.origins) o.stopping = true;
    await this.edge?.stop();
    await Promise.all(this.origins.map((o) => o.process.stop('SIGKILL')));
    await this.repo.cleanup();
  }
}

/** VmRSS of one process, MiB (0 when it is gone). */
export function rssMiB(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** VmRSS of every process in a process group, MiB. */
export function groupRssMiB(pgid: number): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) total += rssMiB(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}
