/**
 * The README's "## Bring your own model" commands work when pasted: its ```sh blocks, read from README.md
 * as they stand, run one command at a time in a shell in the repository, on a real third-party model
 * (Silero VAD from @ricky0123/vad-web: If nodes, an int64 scalar input, and it refuses the zeros an
 * origin would warm up on without examples). `npm start` runs as a terminal would run it (its own process
 * group, Ctrl-C at the end) and the commands after it run once it prints its URLs. Only these are
 * substituted, each through what the README documents: `model.onnx` and `request.json` by the real files,
 * `models/repository` by a temporary repository (`TANDEM_MODEL_REPOSITORY` for import and start), the dev
 * key folder by a temporary one (`TANDEM_KEY_DIR`), the ports by free ones (`TANDEM_*_PORT=0`, and the
 * edge's port in the curl URL by the one `npm start` printed). The curl answer must be the model's own
 * (onnxruntime-node on the file), within 1e-4 absolute + 1e-3 relative.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listening } from './support/listening.ts';
import { thirdPartyModel } from '../models/third-party/catalog.ts';
import { decodeInferResponse } from '../protocol/oip-codec.ts';
import type { NamedTensors, Tensor } from '../protocol/tensor.ts';
import { ROOT, referenceOutputs, writeExampleRequests } from './support/byom-import.ts';
import { diffOutputs, worst } from './support/tensor-diff.ts';

const MODEL = thirdPartyModel('silero-vad-v5');
const SECTION = 'Bring your own model';

/** The commands of the section's ```sh blocks, in order: continuation lines joined, blank lines dropped. */
async function readmeCommands(): Promise<string[]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = new RegExp(`^## ${SECTION}\\n([\\s\\S]*?)(?=^## )`, 'm').exec(readme)?.[1];
  if (!section) throw new Error(`README.md has no "## ${SECTION}" section`);
  const commands: string[] = [];
  for (const [, block = ''] of section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
    commands.push(
      ...block
        .replace(/\\\n\s*/g, '')
        .split('\n')
        .filter((line) => line.trim() !== ''),
    );
  }
  return commands;
}

let work: string | undefined;
let start: ChildProcess | undefined;
afterAll(async () => {
  // Only if the test failed half-way: the whole group, whatever state it is in.
  if (start?.pid && start.exitCode === null && start.signalCode === null) process.kill(-start.pid, 'SIGKILL');
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs one command line in bash in the repository; resolves with its output, rejects on a non-zero exit. */
function shell(command: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`\`${command}\` exited ${code}:\n${out}\n${err}`))));
  });
}

describe('README: Bring your own model', () => {
  it("the import, verify, start and curl commands work as written, and curl gets the model's own answer", async () => {
    const commands = await readmeCommands();
    expect(commands.map((c) => c.split(/\s+/).slice(0, 3).join(' '))).toEqual(['npx tandem import', 'npx tandem verify', 'npm start #', 'curl -s -H']);

    work = await mkdtemp(join(tmpdir(), 'tandem-byom-readme-'));
    const repository = join(work, 'repository');
    const [example] = await writeExampleRequests(MODEL, join(work, 'requests'));
    const env = {
      ...process.env,
      TANDEM_MODEL_REPOSITORY: repository,
      TANDEM_KEY_DIR: join(work, 'keys'),
      TANDEM_ORIGIN_PORT: '0',
      TANDEM_EDGE_PORT: '0',
      TANDEM_DEMO_PORT: '0',
    };
    const substitute = (command: string, edgePort?: string) => {
      let out = command.replaceAll('model.onnx', MODEL.path()).replaceAll('request.json', example!.path).replaceAll('models/repository', repository);
      if (edgePort) out = out.replaceAll('127.0.0.1:8787', `127.0.0.1:${edgePort}`);
      return out;
    };

    let edgePort: string | undefined;
    let urls: string[] = [];
    let answer = '';
    const output: string[] = [];
    for (const command of commands) {
      if (command.startsWith('npm start')) {
        // A terminal's foreground job: its own process group, so Ctrl-C reaches npm and everything under it.
        start = spawn('bash', ['-c', substitute(command)], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        let printed = '';
        start.stdout!.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
        start.stderr!.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
        for (const deadline = Date.now() + 240_000; !printed.includes('Ctrl-C stops all of it.'); ) {
          if (Date.now() > deadline || start.exitCode !== null) throw new Error(`npm start did not come up:\n${printed}`);
          await new Promise((r) => setTimeout(r, 250));
        }
        edgePort = /^\s+edge\s+http:\/\/127\.0\.0\.1:(\d+)/m.exec(printed)?.[1];
        expect(edgePort, printed).toBeDefined();
        urls = [...printed.matchAll(/^\s+(?:demo page|edge|origin)\s+(http:\/\/127\.0\.0\.1:\d+)/gm)].map((m) => m[1]!);
        expect(urls, printed).toHaveLength(3);
        output.push(printed);
      } else {
        const out = await shell(substitute(command, edgePort), env);
        output.push(out);
        if (command.startsWith('curl')) answer = out;
      }
    }
    expect(output[0]).toContain(`imported my-model@1.0.0 into ${repository}/my-model/1.0.0`);
    expect(output[1]).toMatch(/^ok {4}my-model@1\.0\.0 {2}signed by /m);

    const response = decodeInferResponse(new TextEncoder().encode(answer), null);
    expect(response.modelName).toBe('my-model');
    const outputs: NamedTensors = Object.fromEntries(response.outputs.map((t) => [t.name, { dtype: t.dtype, dims: t.dims, data: t.data } as Tensor]));
    const [reference] = await referenceOutputs(MODEL.path(), [example!.inputs]);
    const w = worst(diffOutputs([reference!], [outputs]));
    console.log(`curl through the edge: max abs ${w.maxAbsError}, max rel ${w.maxRelError} against onnxruntime-node`);
    expect(w.allcloseRatio).toBeLessThanOrEqual(1);

    // Ctrl-C: everything stops (npm re-raises the SIGINT it got once its script has exited).
    const exited = new Promise<number | string | null>((resolve) => start!.once('exit', (code, signal) => resolve(code ?? signal)));
    process.kill(-start!.pid!, 'SIGINT');
    expect(await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))])).toMatch(/^(0|SIGINT)$/);
    for (const url of urls) expect(await listening(url), `${url} still listening`).toBe(false);
  }, 420_000);
});
