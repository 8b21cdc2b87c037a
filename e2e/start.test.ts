/**
 * `npm start` as a user runs it: the CLI brings up the origin, the edge and the demo page and prints their
 * URLs; Ctrl-C (SIGINT to the terminal's process group) stops all three, the origin draining first, and
 * leaves no process or port behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listening } from './support/listening.ts';

const ROOT = join(import.meta.dirname, '..');

let cli: ChildProcess | undefined;
let repository: string | undefined;
afterAll(async () => {
  // Only if the test failed half-way: the whole group, whatever state it is in.
  if (cli?.pid && cli.exitCode === null) process.kill(-cli.pid, 'SIGKILL');
  if (repository) await rm(repository, { recursive: true, force: true });
});

describe('npm start', () => {
  it('starts origin, edge and demo page, prints their URLs, and Ctrl-C stops all of it cleanly', async () => {
    repository = await mkdtemp(join(tmpdir(), 'tandem-start-'));
    const edgeCopiesBefore = new Set((await readdir(tmpdir())).filter((name) => name.startsWith('tandem-edge-')));
    // Its own process group, as a shell gives a foreground job; free ports, so it runs beside anything.
    cli = spawn(process.execPath, ['stack/bin/tandem.mjs', 'start', '--repository', repository, '--origin-port', '0', '--edge-port', '0', '--demo-port', '0'], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    cli.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    cli.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => cli!.once('exit', (code) => resolve(code)));

    for (const deadline = Date.now() + 240_000; !output.includes('Ctrl-C stops all of it.'); ) {
      if (Date.now() > deadline || cli.exitCode !== null) throw new Error(`npm start did not come up:\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const url = (name: string) => new RegExp(`^\\s+${name}\\s+(http://127\\.0\\.0\\.1:\\d+)`, 'm').exec(output)?.[1] ?? '';
    const [demo, edge, origin] = [url('demo page'), url('edge'), url('origin')];
    expect([demo, edge, origin].every(Boolean), output).toBe(true);

    expect(await (await fetch(demo)).text()).toContain('<title>Tandem demo</title>');
    const catalog = (await (await fetch(`${edge}/v1/models`)).json()) as { models: { id: string }[] };
    expect(catalog.models.map((m) => m.id).sort()).toEqual(['large-classifier', 'mlp-classifier', 'shapes-cnn']);
    expect((await fetch(`${origin}/v2/health/ready`)).status).toBe(200);
    // The dev root of trust: made for the repository, seeded into the edge's R2, verified against the pinned
    // dev root keys, which the demo page gets too.
    expect(output).toMatch(/dev root of trust: root version 1, timestamp record \d+/);
    expect((await fetch(`${edge}/v1/trust/timestamp.json`)).status).toBe(200);
    expect(((await (await fetch(`${demo}/demo-config.json`)).json()) as { rootKeys: { keys: unknown[] } }).rootKeys.keys).toHaveLength(1);

    process.kill(-cli.pid!, 'SIGINT');
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
    expect(code, output).toBe(0);
    expect(output).toContain('stopping (the origin drains in-flight requests)');
    for (const u of [demo, edge, origin]) expect(await listening(u), `${u} still listening`).toBe(false);
    // Nothing of the group is left (the origin in it; the edge has its own group and its port is closed).
    expect(() => process.kill(-cli!.pid!, 0)).toThrow();
    // Nor the edge's local R2 (a copy of every model) in the temp folder.
    const leftBehind = (await readdir(tmpdir())).filter((name) => name.startsWith('tandem-edge-') && !edgeCopiesBefore.has(name));
    expect(leftBehind).toEqual([]);
  });
});
