/**
 * Child processes for the edge benchmark: `tsx <script>` started from the repository root, ready once a
 * line of its output matches, stopped with SIGTERM (then SIGKILL) so wrangler and the origin drain.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface Tandem {
  name: string;
  url: string;
  child: ChildProcess;
}


/** Starts `tsx <args>` and resolves with the URL captured by `ready` from its output. */
export function spawnTandem(name: string, args: string[], ready: RegExp, timeoutMs = 300_000): Promise<Tandem> {
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolveTandem, reject) => {
    const tail: string[] = [];
    const timer = setTimeout(() => reject(new Error(`${name} did not start in ${timeoutMs} ms:\n${tail.join('\n')}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        tail.push(line);
        if (tail.length > 40) tail.shift();
        const match = ready.exec(line);
        if (match?.[1]) {
          clearTimeout(timer);
          resolveTandem({ name, url: match[1].replace(/[,.]$/, ''), child });
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${tail.join('\n')}`));
    });
  });
}

export async function stopAll(processes: Tandem[]): Promise<void> {
  await Promise.all(
    processes.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }),
  );
}
