/**
 * The origin as a child process (`origin/main.ts` under tsx), started through the one launcher and ready
 * once it logs `listening`: how `tandem start`, the cross-tier tests and the benchmarks run a real origin
 * they can stop, drain or kill at will.
 */
import { resolve } from 'node:path';
import { launch, parseJsonLine, type ChildService } from './child-process.ts';

export const ROOT = resolve(import.meta.dirname, '..');
const ORIGIN_MAIN = resolve(ROOT, 'origin', 'main.ts');

export interface SpawnOriginOptions {
  /** 0 (default): a free port. */
  port?: number;
  repository?: string;
  /** Extra environment (TANDEM_* config, see origin/config.ts), on top of this process's. */
  env?: Record<string, string>;
  /** Start from a clean environment: no inherited `TANDEM_*` variable (benchmarks). */
  scrubTandemEnv?: boolean;
  /** Node options before the entry, e.g. `['--cpu-prof']`. */
  nodeArgs?: readonly string[];
  /** Fail the launch when a model is refused at load (benchmarks need every model). */
  failOnRefusedModel?: boolean;
  /** Receives each line the origin prints (its JSON log on stdout, notices on stderr). */
  onLine?: (line: string) => void;
  name?: string;
}

export type OriginProcess = ChildService;

export function spawnOrigin(options: SpawnOriginOptions = {}): Promise<OriginProcess> {
  const args = [...(options.nodeArgs ?? []), '--import', 'tsx', ORIGIN_MAIN, '--port', String(options.port ?? 0)];
  if (options.repository) args.push('--repository', options.repository);
  return launch({
    name: options.name ?? 'origin',
    command: process.execPath,
    args,
    cwd: ROOT,
    ...(options.env ? { env: options.env } : {}),
    ...(options.scrubTandemEnv ? { scrubTandemEnv: true } : {}),
    ...(options.onLine ? { onLine: options.onLine } : {}),
    ...(options.failOnRefusedModel ? { failFromLine: refusedModel } : {}),
  });
}

function refusedModel(line: string): string | undefined {
  const entry = parseJsonLine(line);
  return entry?.event === 'model_refused' ? `model refused: ${String(entry.model)}@${String(entry.version)}: ${String(entry.reason)}` : undefined;
}
