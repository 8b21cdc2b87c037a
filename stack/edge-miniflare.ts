/**
 * The edge straight in workerd, through Miniflare's API: no `wrangler dev` proxy worker in front of it and
 * no DevTools inspector, which is what production runs, so the benchmark judges the Worker by this path
 * (startEdge in edge-process.ts keeps wrangler's dev engine, the second row). The same Worker bundle that
 * `wrangler deploy` would upload (`wrangler deploy --dry-run --outdir`), the bindings of wrangler.toml as
 * wrangler turns them into Miniflare options (`unstable_getMiniflareWorkerOptions`: R2, the rate limiter's
 * Durable Object, compatibility date and flags), the same vars and secrets as startEdge (`edgeVars`), and
 * a fresh R2 seeded the same way (seed-r2.ts) under the same persist layout (`<state>/v3`). Runs in this
 * process (workerd is Miniflare's child); the temp folder is removed on stop and at exit.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { edgeVars, freePort, type StartEdgeOptions } from './edge-process.ts';
import { ROOT, WRANGLER_CONFIG, seed } from './seed-r2.ts';

/** startEdge's options that apply here (no wrangler log level, no inspector: neither exists in this path). */
export type WorkerdEdgeOptions = Omit<StartEdgeOptions, 'logLevel' | 'inspector'> & {
  /**
   * For benchmarks: the wrangler.toml of another checkout whose Worker is bundled instead of this one's (a
   * `git archive` of the commit to compare with, its node_modules linked). Bindings, vars and R2 stay this
   * checkout's. Default this checkout's.
   */
  workerConfig?: string;
  /**
   * Serve the Worker on a socket of its own (Miniflare's `unsafeDirectSockets`) rather than behind
   * Miniflare's entry worker, a second isolate that every request otherwise passes through first and that
   * production does not have. Default false.
   */
  direct?: boolean;
  /** For profiles: serve the DevTools protocol of the Worker's isolate on this port (`/json` lists it). Default none. */
  inspectorPort?: number;
};

export interface WorkerdEdge {
  url: string;
  /** The bundled entry module that workerd runs (its `// path` comments name each source module). */
  bundle: string;
  stop(): Promise<void>;
}

/**
 * Bundles the Worker, seeds a fresh local R2 and serves the edge from workerd on 127.0.0.1; resolves once
 * it answers.
 * @example
 * const edge = await startEdgeInWorkerd({ origins: [origin.url], repository, trustedKeys, apiKeys: [...DEV_API_KEYS] });
 * await fetch(`${edge.url}/v1/models`);
 * await edge.stop();
 */
export async function startEdgeInWorkerd(options: WorkerdEdgeOptions): Promise<WorkerdEdge> {
  const state = await mkdtemp(join(tmpdir(), 'tandem-edge-workerd-'));
  const removeState = () => rmSync(state, { recursive: true, force: true });
  process.once('exit', removeState);
  let mf: Miniflare | undefined;
  const stop = async () => {
    await mf?.dispose().catch(() => undefined);
    mf = undefined;
    removeState();
    process.off('exit', removeState);
  };
  try {
    const bundleDir = join(state, 'bundle');
    const [scriptPath] = await Promise.all([
      bundleWorker(bundleDir, options.workerConfig ?? WRANGLER_CONFIG),
      seed({ repository: options.repository, persistTo: state, ...(options.extraObjects ? { extra: options.extraObjects } : {}) }),
    ]);
    const { workerOptions } = unstable_getMiniflareWorkerOptions(WRANGLER_CONFIG);
    const port = options.port || (await freePort());
    mf = new Miniflare({
      host: '127.0.0.1',
      port,
      // Where `wrangler dev --persist-to <state>` keeps its data, and where seed() wrote the models.
      defaultPersistRoot: join(state, 'v3'),
      // No internet here: Request.cf is Miniflare's placeholder rather than a fetch of Cloudflare's.
      cf: false,
      ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
      handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
        for (const stream of [stdout, stderr]) forwardLines(stream, options.onLine);
      },
      workers: [
        {
          ...workerOptions,
          name: 'tandem-edge',
          modules: true,
          scriptPath,
          // Module names are paths relative to this root; the default (the working directory) would make them '../…'.
          modulesRoot: bundleDir,
          bindings: { ...(workerOptions.bindings ?? {}), ...(await edgeVars(options)) },
          ...(options.inspectorPort ? { unsafeInspectorProxy: true } : {}),
          ...(options.direct ? { unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }] } : {}),
        },
      ],
    });
    await mf.ready;
    const url = options.direct ? (await mf.unsafeGetDirectURL('tandem-edge')).origin : `http://127.0.0.1:${port}`;
    await waitUntilAnswers(url);
    return { url, bundle: scriptPath, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * `wrangler deploy --dry-run --outdir` (as deploy/deploy-edge.ts bundles for its size check): the bundle a
 * deploy uploads; resolves with its entry module.
 */
async function bundleWorker(outdir: string, config: string): Promise<string> {
  const args = ['deploy', '--config', config, '--dry-run', '--outdir', outdir];
  await new Promise<void>((done, fail) => {
    const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' };
    execFile(join(ROOT, 'node_modules', '.bin', 'wrangler'), args, { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? fail(new Error(`wrangler deploy --dry-run failed: ${err.message}\n${stdout}${stderr}`)) : done(),
    );
  });
  const files = (await readdir(outdir)).filter((f) => /\.m?js$/.test(f));
  const entry = files.find((f) => /^main\.m?js$/.test(f)) ?? (files.length === 1 ? files[0] : undefined);
  if (!entry) throw new Error(`no Worker entry module in ${outdir} (found ${files.join(', ') || 'nothing'})`);
  return join(outdir, entry);
}

/** workerd's console output, line by line, to `onLine`; drained either way so workerd never blocks on a full pipe. */
function forwardLines(stream: Readable, onLine: ((line: string) => void) | undefined): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    if (!onLine) return;
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line) onLine(line);
  });
}

/** Polls the catalog until the Worker answers below 500 (its first request also opens the R2 store). */
async function waitUntilAnswers(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/v1/models`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status < 500) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the edge in workerd did not answer at ${url} within ${timeoutMs} ms: ${last instanceof Error ? last.message : String(last)}`);
}
