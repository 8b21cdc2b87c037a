/**
 * Starts `origin/main.ts` as a child process and resolves once it logs `listening`: how `npm start`, the
 * edge's integration tests and the end-to-end tests run a real origin they can stop (or kill) at will.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

const ORIGIN_MAIN = resolve(import.meta.dirname, 'main.ts');

export interface SpawnOriginOptions {
  /** 0: a free port. */
  port?: number;
  repository?: string;
  /** Extra environment (TANDEM_* config, see config.ts), on top of this process's. */
  env?: Record<string, string>;
  /** Receives each line the origin prints (its JSON log on stdout, notices on stderr). */
  onLine?: (line: string) => void;
}

export interface OriginProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Sends `signal` (default SIGTERM: the origin drains) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function spawnOrigin(options: SpawnOriginOptions = {}): Promise<OriginProcess> {
  const args = ['--import', 'tsx', ORIGIN_MAIN, '--port', String(options.port ?? 0)];
  if (options.repository) args.push('--repository', options.repository);
  const child = spawn(process.execPath, args, {
    cwd: join(import.meta.dirname, '..'),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Should this process end without stop() (an uncaught error, process.exit elsewhere), the origin must
  // not outlive it holding its port.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  const exited = new Promise<void>((done) =>
    child.once('exit', () => {
      process.off('exit', orphanGuard);
      done();
    }),
  );
  const stderr: string[] = [];
  const url = await new Promise<string>((resolveUrl, reject) => {
    forEachLine(child.stdout!, (line) => {
      options.onLine?.(line);
      const entry = parseJson(line);
      if (entry?.event === 'listening' && typeof entry.url === 'string') resolveUrl(entry.url);
    });
    forEachLine(child.stderr!, (line) => {
      options.onLine?.(line);
      if (stderr.length < 50) stderr.push(line);
    });
    void exited.then(() => reject(new Error(`the origin exited with ${child.exitCode ?? child.signalCode} before listening:\n${stderr.join('\n')}`)));
  });
  return {
    url,
    port: Number(new URL(url).port),
    child,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

function forEachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffer = '';
  stream.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim()) onLine(line);
    }
  });
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
