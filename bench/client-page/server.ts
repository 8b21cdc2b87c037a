/**
 * The bench page's server, on 127.0.0.1 only: the page (main.ts, the SDK and both Web Workers) built by
 * Vite for production into a temporary folder, as an app ships it (one bundle per worker, not the dev
 * server's hundreds of modules), onnxruntime-web's runtime files at /ort/, and the edge's routes (signed
 * manifests, artifacts with Range) from client/test-support/fake-edge.ts on the same origin, so neither
 * side pays a CORS preflight. Every response carries COOP/COEP: the page is cross-origin isolated, which
 * gives `performance.now()` 5 µs resolution instead of 100 µs (the SDK is told `crossOriginIsolated:
 * false`, so it keeps 1 WASM thread, like the raw worker).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { build, defaultClientConditions } from 'vite';
import { createFakeEdge } from '../../client/test-support/fake-edge.ts';
import type { Manifest } from '../../protocol/manifest.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const ORT_DIST = join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');
/** The two files the `onnxruntime-web-use-extern-wasm` build loads from `wasmPaths` (as in the root vite.config.ts). */
const ORT_FILE = /^ort-wasm-simd-threaded\.jsep\.(wasm|mjs)$/;
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.json': 'application/json',
};
const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

export interface BenchPageServer {
  /** The page's origin, e.g. `http://127.0.0.1:41234`; the edge's routes are under it. */
  url: string;
  /** Requests the edge routes answered, `METHOD /path`, in order. */
  edgeRequests: string[];
  close(): Promise<void>;
}

/** Builds bench/client-page with Vite into a temporary folder. */
async function buildPage(): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), 'tandem-bench-page-'));
  await build({
    configFile: false,
    root: import.meta.dirname,
    logLevel: 'warn',
    // The build of onnxruntime-web that loads its .wasm/.mjs from `wasmPaths` (/ort/ here), for both workers.
    resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
    worker: { format: 'es' },
    // Unminified when profiling (BENCH_CLIENT_PROFILE), so that the profiles name the SDK's functions.
    build: { outDir, emptyOutDir: true, reportCompressedSize: false, chunkSizeWarningLimit: 10_000, minify: !process.env.BENCH_CLIENT_PROFILE },
  });
  return outDir;
}

/** Starts the server: builds the page, then serves it and the edge's routes for `manifests` from `repository`. */
export async function startBenchPageServer(options: { repository: string; manifests: ReadonlyMap<string, Manifest> }): Promise<BenchPageServer> {
  const outDir = await buildPage();
  const edge = createFakeEdge({ repository: options.repository, manifests: options.manifests });

  const serveFile = async (res: ServerResponse, file: string) => {
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      res.writeHead(404, ISOLATION).end('not found');
      return;
    }
    res.writeHead(200, {
      ...ISOLATION,
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': String(info.size),
      'cache-control': 'no-store',
    });
    createReadStream(file).pipe(res);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname.startsWith('/v1/') || url.pathname.startsWith('/v2/')) {
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req);
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
      const answer = await edge.fetch(`http://127.0.0.1${url.pathname}${url.search}`, { method: req.method ?? 'GET', headers, ...(body ? { body } : {}) });
      const bytes = new Uint8Array(await answer.arrayBuffer());
      res.writeHead(answer.status, {
        ...ISOLATION,
        ...Object.fromEntries(answer.headers),
        'content-length': String(bytes.length),
        'cache-control': 'no-store',
      });
      res.end(bytes);
      return;
    }
    if (url.pathname.startsWith('/ort/')) {
      const name = url.pathname.slice('/ort/'.length);
      if (ORT_FILE.test(name)) return serveFile(res, join(ORT_DIST, name));
      res.writeHead(404, ISOLATION).end('not found');
      return;
    }
    const path = normalize(url.pathname === '/' ? '/index.html' : url.pathname);
    if (path.includes('..')) {
      res.writeHead(400, ISOLATION).end('bad path');
      return;
    }
    return serveFile(res, join(outDir, path));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, ISOLATION);
      res.end(String(err));
    });
  });
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    edgeRequests: edge.requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      await rm(outDir, { recursive: true, force: true });
    },
  };
}

async function readBody(req: IncomingMessage): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}
