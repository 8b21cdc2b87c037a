/**
 * The whole stack on loopback: the origin (a child process), the edge under `wrangler dev` in front of it,
 * and the demo page on Vite's dev server, all on the same signed model repository. `npm start` runs it
 * until Ctrl-C; the end-to-end tests start it, stop tiers of it and start them again.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createServer, type ViteDevServer } from 'vite';
import { DEV_API_KEYS, DEV_ORIGIN_TOKEN } from './dev-credentials.ts';
import { startEdge, type RunningEdge, type StartEdgeOptions } from './edge-process.ts';
import { spawnOrigin, type OriginProcess } from './origin-process.ts';

const ROOT = resolve(import.meta.dirname, '..');

export interface StackOptions {
  repository: string;
  /** Path of the trusted keys JSON file (the demo pins them, the edge and origin verify with them). */
  trustedKeysFile: string;
  /**
   * Path of the pinned root keys (JSON, same shape), when the repository has a root of trust: the origin
   * (TANDEM_ROOT_KEYS) and the edge (ROOT_KEYS) verify it with them, and the demo gets them as `rootKeys`.
   */
  rootKeysFile?: string;
  /** 0: a free port. */
  originPort?: number;
  edgePort?: number;
  demoPort?: number;
  /** Edge options beyond the defaults (canary, tuning, extra seeded objects). */
  edge?: Partial<Pick<StartEdgeOptions, 'canary' | 'tuning' | 'extraObjects' | 'apiKeys'>>;
  /** Each tier's output lines, tagged with the tier. */
  onLine?: (tier: 'origin' | 'edge' | 'demo', line: string) => void;
}

export interface RunningStack {
  origin: OriginProcess;
  edge: RunningEdge;
  demoUrl: string;
  /** Starts the origin again (after a stop), on the same port. */
  restartOrigin(): Promise<void>;
  /** Starts the edge again on the same port, with changed options (a new repository, say). */
  restartEdge(changes?: Partial<StackOptions>): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<RunningStack> {
  const onLine = options.onLine ?? (() => {});
  const trustedKeys = await readFile(options.trustedKeysFile, 'utf8');
  const rootKeys = options.rootKeysFile === undefined ? undefined : await readFile(options.rootKeysFile, 'utf8');
  let current = options;
  let origin: OriginProcess | undefined;
  let edge: RunningEdge | undefined;
  let demo: ViteDevServer | undefined;

  const launchOrigin = async (port: number) =>
    spawnOrigin({
      port,
      repository: current.repository,
      env: {
        TANDEM_TRUSTED_KEYS: trustedKeys,
        TANDEM_ORIGIN_TOKEN: process.env.TANDEM_ORIGIN_TOKEN ?? DEV_ORIGIN_TOKEN,
        ...(rootKeys === undefined ? {} : { TANDEM_ROOT_KEYS: rootKeys }),
      },
      onLine: (line) => onLine('origin', line),
    });
  const launchEdge = async (port: number, originUrl: string) =>
    startEdge({
      origins: [originUrl],
      repository: current.repository,
      trustedKeys,
      ...(rootKeys === undefined ? {} : { rootKeys }),
      port,
      originToken: process.env.TANDEM_ORIGIN_TOKEN ?? DEV_ORIGIN_TOKEN,
      apiKeys: [...DEV_API_KEYS],
      ...current.edge,
      onLine: (line) => onLine('edge', line),
    });

  const stop = async () => {
    await Promise.allSettled([demo?.close(), edge?.stop(), origin?.stop()]);
  };
  try {
    origin = await launchOrigin(options.originPort ?? 0);
    edge = await launchEdge(options.edgePort ?? 0, origin.url);
    // The demo asks the dev server for its edge and pinned keys: /demo-config.json (see vite.config.ts).
    process.env.TANDEM_DEMO_EDGE = edge.url;
    process.env.TANDEM_TRUSTED_KEYS_FILE = options.trustedKeysFile;
    // Empty: this repository has no root of trust, so the demo pins none ("rootKeys": null).
    process.env.TANDEM_ROOT_KEYS_FILE = options.rootKeysFile ?? '';
    demo = await createServer({
      configFile: join(ROOT, 'vite.config.ts'),
      logLevel: 'warn',
      server: { port: options.demoPort ?? 0, strictPort: true, host: '127.0.0.1' },
    });
    await demo.listen();
  } catch (err) {
    await stop();
    throw err;
  }
  const address = demo.httpServer?.address();
  const demoUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : options.demoPort}/`;

  return {
    get origin() {
      return origin!;
    },
    get edge() {
      return edge!;
    },
    demoUrl,
    restartOrigin: async () => {
      const port = origin!.port;
      await origin!.stop();
      origin = await launchOrigin(port);
    },
    restartEdge: async (changes = {}) => {
      current = { ...current, ...changes };
      const port = edge!.port;
      await edge!.stop();
      edge = await launchEdge(port, origin!.url);
    },
    stop,
  };
}
