/**
 * The one launcher of Tandem's local processes: `tandem start`, the benchmarks and the cross-tier tests
 * start the origin and the edge as child processes through it, and it owns what every such child needs:
 * its output read line by line, a readiness signal (a log line or a URL that answers), a stop that
 * escalates from SIGTERM to SIGKILL, no orphan left behind however the parent ends, and its CPU time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface LaunchOptions {
  /** For messages: "origin", "edge"... */
  name: string;
  command: string;
  args: readonly string[];
  cwd: string;
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Remove every inherited `TANDEM_*` variable first (a benchmark's servers get only what it sets). */
  scrubTandemEnv?: boolean;
  /** Start the child as a process-group leader and signal the whole group (wrangler's shim starts workerd). */
  processGroup?: boolean;
  /** Every non-empty line the child prints, stdout and stderr. */
  onLine?: (line: string) => void;
  /** Ready when a line yields a URL (default: the origin's JSON log line `{"event":"listening","url"}`). */
  readyFromLine?: (line: string) => string | undefined;
  /** Or ready when this URL answers `probe` (checked every 200 ms). */
  readyWhen?: { url: string; probe: (url: string) => Promise<boolean> };
  /** A line that means the child will never become ready: its message rejects the launch. */
  failFromLine?: (line: string) => string | undefined;
  readyTimeoutMs?: number;
  /** Runs once the child has exited (synchronously when this process exits first): temp folders, say. */
  cleanup?: () => void;
}

export interface ChildService {
  name: string;
  url: string;
  port: number;
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (-1 for a signal) once the child has exited. */
  exited: Promise<number>;
  /** CPU seconds (user + system, every thread) the child has used so far, or undefined off Linux or after exit. */
  cpuSeconds(): number | undefined;
  /** Sends `signal` (default SIGTERM), then SIGKILL if the child has not exited within `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

const STDERR_TAIL_LINES = 50;

/** The origin's readiness line. */
export function listeningUrl(line: string): string | undefined {
  const entry = parseJsonLine(line);
  return entry?.event === 'listening' && typeof entry.url === 'string' ? entry.url : undefined;
}

/**
 * @example
 * const origin = await launch({ name: 'origin', command: process.execPath, args: ['--import', 'tsx', 'origin/main.ts'], cwd });
 * await origin.stop();
 */
export async function launch(options: LaunchOptions): Promise<ChildService> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !(options.scrubTandemEnv && key.startsWith('TANDEM_'))) env[key] = value;
  }
  Object.assign(env, options.env);
  const child = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.processGroup ?? false,
  });
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (options.processGroup && child.pid !== undefined) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      child.kill(sig);
    }
  };
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    options.cleanup?.();
  };
  // Should this process end without stop() (an uncaught error, process.exit elsewhere, a signal handler
  // that exits), the child must not outlive it holding its port.
  const orphanGuard = () => {
    signal('SIGKILL');
    cleanup();
  };
  process.once('exit', orphanGuard);
  let exitCode: number | undefined;
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code ?? -1;
      process.off('exit', orphanGuard);
      cleanup();
      resolve(exitCode);
    }),
  );

  const stderrTail: string[] = [];
  let onReadyLine: ((line: string) => void) | undefined;
  forEachLine(child.stdout!, (line) => {
    options.onLine?.(line);
    onReadyLine?.(line);
  });
  forEachLine(child.stderr!, (line) => {
    options.onLine?.(line);
    stderrTail.push(line);
    if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
    onReadyLine?.(line);
  });

  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const fail = (why: string) => new Error(`${options.name}: ${why}\n${stderrTail.join('\n')}`);
  let timer: NodeJS.Timeout | undefined;
  let url: string;
  try {
    url = await new Promise<string>((resolve, reject) => {
      timer = setTimeout(() => reject(fail(`not ready after ${readyTimeoutMs} ms`)), readyTimeoutMs);
      void exited.then((code) => reject(fail(`exited with ${code} before it was ready`)));
      child.once('error', reject);
      const readyFromLine = options.readyFromLine ?? (options.readyWhen ? undefined : listeningUrl);
      onReadyLine = (line) => {
        const failure = options.failFromLine?.(line);
        if (failure !== undefined) reject(fail(failure));
        const found = readyFromLine?.(line);
        if (found !== undefined) resolve(found);
      };
      if (options.readyWhen) void pollUntilReady(options.readyWhen, () => exitCode !== undefined).then(resolve, reject);
    });
  } catch (err) {
    signal('SIGKILL');
    await exited;
    throw err;
  } finally {
    clearTimeout(timer);
    onReadyLine = undefined;
  }

  const pid = child.pid!;
  return {
    name: options.name,
    url,
    port: Number(new URL(url).port),
    child,
    pid,
    exited,
    cpuSeconds: () => (exitCode === undefined ? processCpuSeconds(pid) : undefined),
    async stop(sig = 'SIGTERM', graceMs = 8000) {
      if (exitCode === undefined) {
        signal(sig);
        const killer = setTimeout(() => signal('SIGKILL'), graceMs);
        await exited;
        clearTimeout(killer);
      }
      cleanup();
    },
  };
}

async function pollUntilReady(ready: NonNullable<LaunchOptions['readyWhen']>, gone: () => boolean): Promise<string> {
  for (;;) {
    if (gone()) return new Promise(() => {}); // The exit rejects the launch.
    if (await ready.probe(ready.url).catch(() => false)) return ready.url;
    await new Promise((r) => setTimeout(r, 200));
  }
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

export function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds of a process from /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s). */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}
