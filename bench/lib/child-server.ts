/**
 * Servers under test run as child processes (`node --import tsx <entry> --port 0`), so the load
 * generator's JavaScript runs in another process and its CPU time is not the server's; both still share
 * the machine's cores, which the report says. The child announces itself with the origin's JSON log line
 * `{"event":"listening","url":...}` on stdout (as origin/shutdown.test.ts reads it); its stdout keeps
 * being drained afterwards (the origin logs one line per request, and a full pipe would stall it).
 *
 * Every child is registered with `cleanup.ts`, so it is killed however the benchmark ends.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { onExit } from './cleanup.ts';

export interface ChildServer {
  name: string;
  url: string;
  pid: number;
  /** CPU seconds (user + system, every thread) the child has used so far, or undefined off Linux. */
  cpuSeconds(): number | undefined;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface ChildServerOptions {
  name: string;
  /** The TypeScript entry point, run with `node --import tsx`. */
  entry: string;
  args?: readonly string[];
  /** Node options placed before the entry, e.g. `['--cpu-prof']` to see where a server's time goes. */
  nodeArgs?: readonly string[];
  /** Added to this process's environment, from which every `TANDEM_*` variable is removed first. */
  env?: Record<string, string>;
  cwd: string;
  readyTimeoutMs?: number;
}

const TAIL_BYTES = 4096;

export async function startChildServer(options: ChildServerOptions): Promise<ChildServer> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('TANDEM_')) env[key] = value;
  Object.assign(env, options.env);
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', options.entry, ...(options.args ?? [])], {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const unregister = onExit(() => child.kill('SIGKILL'));
  let stderrTail = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString()).slice(-TAIL_BYTES);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
    unregister();
  });

  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    let ready = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (ready) return; // Drained and dropped: the request log is not the benchmark's business.
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const entry = parseLine(line);
        if (entry?.event === 'listening' && typeof entry.url === 'string') {
          ready = true;
          resolve(entry.url);
          return;
        }
        if (entry?.event === 'model_refused') {
          reject(new Error(`${options.name}: model refused: ${String(entry.model)}@${String(entry.version)}: ${String(entry.reason)}`));
        }
      }
    });
    timer = setTimeout(() => reject(new Error(`${options.name}: not listening after ${readyTimeoutMs} ms\n${stderrTail}`)), readyTimeoutMs);
    void exited.then((code) => reject(new Error(`${options.name}: exited with ${String(code)} before listening\n${stderrTail}`)));
    child.once('error', reject);
  })
    .catch((err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    })
    .finally(() => clearTimeout(timer));

  const pid = child.pid!;
  return {
    name: options.name,
    url,
    pid,
    cpuSeconds: () => (exitCode === undefined ? processCpuSeconds(pid) : undefined),
    async stop(graceMs = 8000) {
      if (exitCode !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

function parseLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
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
